"""Size and count limits, checked before any expensive work (docs/protocol.md section 8)."""

from dataclasses import dataclass

from protocol.errors import LimitError


@dataclass(frozen=True, slots=True)
class Limits:
    max_envelope_bytes: int = 512
    max_body_bytes: int = 64 * 1024
    max_batch_records: int = 500
    max_batch_bytes: int = 4 * 1024 * 1024

    def check_envelope(self, size: int) -> None:
        if size > self.max_envelope_bytes:
            raise LimitError(f"envelope is {size} bytes; the limit is {self.max_envelope_bytes}")

    def check_body(self, size: int) -> None:
        if size > self.max_body_bytes:
            raise LimitError(f"body is {size} bytes; the limit is {self.max_body_bytes}")

    def check_batch_bytes(self, size: int) -> None:
        if size > self.max_batch_bytes:
            raise LimitError(f"batch is {size} bytes; the limit is {self.max_batch_bytes}")

    def check_batch_records(self, count: int) -> None:
        if count > self.max_batch_records:
            raise LimitError(f"batch holds {count} records; the limit is {self.max_batch_records}")


DEFAULT_LIMITS = Limits()
