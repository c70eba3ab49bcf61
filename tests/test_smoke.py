from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import incident_body


async def test_publish_then_fetch(client: NodeClient, tokens: dict[Role, str]) -> None:
    response = await client.post(
        "/api/v1/records",
        json={"kind": "incident", "audience": "public", "body": incident_body()},
        headers=bearer(tokens[Role.PUBLISHER]),
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    fetched = await client.get(f"/api/v1/records/{created['id']}")
    assert fetched.status == 200
    assert (await fetched.json())["body"]["city"] == "New York"
