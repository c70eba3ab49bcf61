// The map page with JavaScript: MapLibre GL draws the node's own data over the
// server-drawn SVG, which stays in the page for anyone without script.
//
// Everything comes from this origin (the page's policy allows nothing else):
// the data as vector tiles (data-tiles), "where chapters survey" from the
// GeoJSON (data-geojson), the shipped country outlines (data-outlines) or an
// operator's PMTiles basemap (data-basemap="pmtiles:URL", read with Range
// requests through the vendored pmtiles protocol), and MapLibre's worker
// (data-worker), so no blob: worker is needed. No glyphs are loaded: counts
// are HTML markers and camera shapes are images drawn here.
//
// Cameras: FRT capability is the shape and the colour (triangle red confirmed,
// diamond orange suspected, circle blue unknown), status the fill (solid;
// hollow when only reported; dashed when disputed; grey with a cross when
// removed), as in the SVG's legend. Incidents are only cells with counts.
// The view is kept in the URL (bbox) as the map moves, so it can be shared.

const FRT = { confirmed: "#c0182a", suspected: "#d9690b", unknown: "#2f6db5" };
const SHAPE = { confirmed: "triangle", suspected: "diamond", unknown: "circle" };
const FILLS = ["solid", "hollow", "dashed", "removed"];
const MAX_LABELS = 300;
const ICON = 32; // pixels of an icon image, drawn at pixel ratio 2 (16 CSS pixels)

function fillOf(status) {
  if (status === "reported") return "hollow";
  if (status === "disputed") return "dashed";
  if (status === "removed") return "removed";
  return "solid";
}

function shapePath(ctx, shape) {
  const s = ICON / 16;
  ctx.beginPath();
  if (shape === "triangle") {
    ctx.moveTo(8 * s, 1 * s); ctx.lineTo(15 * s, 14 * s); ctx.lineTo(1 * s, 14 * s);
  } else if (shape === "diamond") {
    ctx.moveTo(8 * s, 1 * s); ctx.lineTo(15 * s, 8 * s); ctx.lineTo(8 * s, 15 * s);
    ctx.lineTo(1 * s, 8 * s);
  } else {
    ctx.arc(8 * s, 8 * s, 6 * s, 0, 2 * Math.PI);
  }
  ctx.closePath();
}

// One image per FRT capability and fill, named "camera-<frt>-<fill>".
function addIcons(map) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = ICON;
  const ctx = canvas.getContext("2d");
  for (const [frt, colour] of Object.entries(FRT)) {
    for (const fill of FILLS) {
      ctx.clearRect(0, 0, ICON, ICON);
      ctx.lineWidth = 5;
      ctx.setLineDash(fill === "dashed" ? [6, 4] : []);
      shapePath(ctx, SHAPE[frt]);
      ctx.fillStyle = fill === "solid" ? colour : "#ffffff";
      ctx.strokeStyle = fill === "removed" ? "#6b6b6b" : colour;
      ctx.fill();
      ctx.stroke();
      if (fill === "removed") {
        ctx.setLineDash([]);
        ctx.strokeStyle = "#1b1b1b";
        ctx.beginPath();
        ctx.moveTo(8, 8); ctx.lineTo(24, 24); ctx.moveTo(24, 8); ctx.lineTo(8, 24);
        ctx.stroke();
      }
      const image = ctx.getImageData(0, 0, ICON, ICON);
      map.addImage(`camera-${frt}-${fill}`, image, { pixelRatio: 2 });
    }
  }
  // The "not surveyed" hatching, as a repeating pattern.
  ctx.clearRect(0, 0, ICON, ICON);
  ctx.setLineDash([]);
  ctx.strokeStyle = "rgba(120, 120, 120, 0.55)";
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.moveTo(0, ICON); ctx.lineTo(ICON, 0);
  ctx.moveTo(-ICON / 2, ICON / 2); ctx.lineTo(ICON / 2, -ICON / 2);
  ctx.moveTo(ICON / 2, ICON * 1.5); ctx.lineTo(ICON * 1.5, ICON / 2);
  ctx.stroke();
  map.addImage("hatch", ctx.getImageData(0, 0, ICON, ICON), { pixelRatio: 2 });
}

const GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz";

// The centre [lon, lat] of a geohash cell (where its count is written).
function cellCentre(geohash) {
  let west = -180, east = 180, south = -90, north = 90, even = true;
  for (const ch of geohash) {
    const value = GEOHASH.indexOf(ch);
    for (let bit = 4; bit >= 0; bit--) {
      const on = (value >> bit) & 1;
      if (even) {
        const mid = (west + east) / 2;
        if (on) west = mid; else east = mid;
      } else {
        const mid = (south + north) / 2;
        if (on) south = mid; else north = mid;
      }
      even = !even;
    }
  }
  return [(west + east) / 2, (south + north) / 2];
}

function basemapLayers(basemap) {
  if (basemap.startsWith("pmtiles:")) {
    // Protomaps' basemap layers; a layer the file lacks simply draws nothing.
    return [
      { id: "earth", type: "fill", source: "basemap", "source-layer": "earth",
        paint: { "fill-color": "#f4f1ea" } },
      { id: "water", type: "fill", source: "basemap", "source-layer": "water",
        paint: { "fill-color": "#dde8f0" } },
      { id: "roads", type: "line", source: "basemap", "source-layer": "roads",
        paint: { "line-color": "#d6d0c4", "line-width": 1 } },
      { id: "boundaries", type: "line", source: "basemap", "source-layer": "boundaries",
        paint: { "line-color": "#8c8c8c", "line-width": 0.75 } },
    ];
  }
  return [
    { id: "land", type: "fill", source: "outlines", paint: { "fill-color": "#f4f1ea" } },
    { id: "borders", type: "line", source: "outlines",
      paint: { "line-color": "#8c8c8c", "line-width": 0.75 } },
  ];
}

function style(data, origin) {
  const basemap = data.basemap || "outlines";
  const sources = {
    outlines: { type: "geojson", data: origin + data.outlines },
    node: { type: "vector", tiles: [origin + data.tiles], minzoom: 0, maxzoom: 16 },
  };
  if (basemap.startsWith("pmtiles:")) {
    sources.basemap = { type: "vector", url: "pmtiles://" + origin + basemap.slice(8) };
  }
  const iconName = ["concat", "camera-", ["get", "frt"], "-",
    ["match", ["get", "status"], "reported", "hollow", "disputed", "dashed",
      "removed", "removed", "solid"]];
  return {
    version: 8,
    sources,
    layers: [
      { id: "sea", type: "background", paint: { "background-color": "#dde8f0" } },
      ...basemapLayers(basemap),
      { id: "not-surveyed", type: "fill", source: "outlines",
        filter: ["boolean", false], paint: { "fill-pattern": "hatch" } },
      { id: "cells", type: "fill", source: "node", "source-layer": "incidents",
        paint: {
          "fill-color": "rgb(123, 63, 160)",
          "fill-opacity": ["interpolate", ["linear"], ["get", "count"], 3, 0.2, 50, 0.65],
        } },
      { id: "cell-edges", type: "line", source: "node", "source-layer": "incidents",
        paint: { "line-color": "#5b2a86", "line-width": 1.5 } },
      { id: "clusters", type: "circle", source: "node", "source-layer": "clusters",
        paint: {
          "circle-color": "#1d4f91",
          "circle-opacity": 0.85,
          "circle-stroke-color": "#ffffff",
          "circle-stroke-width": 2,
          "circle-radius": ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 12, 100, 30],
        } },
      { id: "cameras", type: "symbol", source: "node", "source-layer": "deployments",
        layout: { "icon-image": iconName, "icon-allow-overlap": true } },
    ],
  };
}

// After each redraw: the counts of clusters and cells as HTML markers (no font
// server needed), and what is drawn, on #map's data-drawn-* (for tests and tools).
function onIdle(map, element) {
  let shown = new Map();
  return () => {
    const wanted = new Map();
    const add = (key, lngLat, text, kind) => {
      if (!wanted.has(key) && wanted.size < MAX_LABELS) wanted.set(key, { lngLat, text, kind });
    };
    for (const f of map.queryRenderedFeatures({ layers: ["clusters"] })) {
      const [lon, lat] = f.geometry.coordinates;
      add(`c${lon},${lat}`, [lon, lat], String(f.properties.count), "cluster");
    }
    const cells = new Map();
    for (const f of map.queryRenderedFeatures({ layers: ["cells"] })) {
      cells.set(f.properties.cell, f.properties.count);
      add(`i${f.properties.cell}`, cellCentre(f.properties.cell), String(f.properties.count),
        "cell");
    }
    const next = new Map();
    for (const [key, label] of wanted) {
      let marker = shown.get(key);
      if (marker) {
        shown.delete(key);
      } else {
        const span = document.createElement("span");
        span.className = `map-count map-count-${label.kind}`;
        span.textContent = label.text;
        span.setAttribute("aria-hidden", "true");
        marker = new maplibregl.Marker({ element: span }).setLngLat(label.lngLat).addTo(map);
      }
      next.set(key, marker);
    }
    for (const marker of shown.values()) marker.remove();
    shown = next;
    const cameras = new Set();
    for (const f of map.queryRenderedFeatures({ layers: ["cameras"] })) {
      cameras.add(f.properties.id || f.geometry.coordinates.join(","));
    }
    element.dataset.drawnCameras = String(cameras.size);
    element.dataset.drawnClusters = String([...wanted.values()].filter(
      (label) => label.kind === "cluster").length);
    element.dataset.drawnCells = [...cells.values()].sort((a, b) => a - b).join(",");
    element.dataset.drawn = "yes";
  };
}

// The view in the URL (and in the filter form), so the view can be shared.
function keepView(map) {
  const b = map.getBounds();
  const clamp = (v, limit) => Math.max(-limit, Math.min(limit, v)).toFixed(4);
  const bbox = [clamp(b.getWest(), 180), clamp(b.getSouth(), 85), clamp(b.getEast(), 180),
    clamp(b.getNorth(), 85)].join(",");
  const url = new URL(window.location.href);
  url.searchParams.set("bbox", bbox);
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  for (const input of document.querySelectorAll('input[type="hidden"][name="bbox"]')) {
    input.value = bbox;
  }
}

async function markNotSurveyed(map, data, origin) {
  if (!data.geojson) return;
  const glue = data.geojson.includes("?") ? "&" : "?";
  try {
    const answer = await fetch(origin + data.geojson + glue + "zoom=0&bbox=0,0,1,1");
    if (!answer.ok) return;
    const codes = (await answer.json()).surveyed.countries;
    map.setFilter("not-surveyed", ["!", ["in", ["get", "iso_a2"], ["literal", codes]]]);
    map.getContainer().dataset.surveyed = codes.join(",");
  } catch (error) {
    // Without it the map still draws; only the hatching is missing.
  }
}

function start(element) {
  const data = element.dataset;
  const origin = window.location.origin;
  if (data.worker) maplibregl.setWorkerUrl(origin + data.worker);
  if ((data.basemap || "").startsWith("pmtiles:") && window.pmtiles) {
    maplibregl.addProtocol("pmtiles", new pmtiles.Protocol().tile);
  }
  const [west, south, east, north] = (data.bbox || "-180,-85,180,85").split(",").map(Number);
  const container = document.createElement("div");
  container.className = "map-gl";
  element.append(container);
  const map = new maplibregl.Map({
    container,
    style: style(data, origin),
    bounds: [[west, south], [east, north]],
    maxZoom: 18,
    attributionControl: false,
    dragRotate: false,
    pitchWithRotate: false,
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.on("styleimagemissing", () => {});
  addIcons(map);
  const idle = onIdle(map, element);
  map.on("load", () => {
    element.classList.add("map-enhanced");
    markNotSurveyed(map, data, origin);
  });
  map.on("idle", idle);
  map.on("error", (event) => console.warn("map:", event.error && event.error.message));
  map.on("moveend", () => keepView(map));
  map.on("click", "cameras", (event) => {
    const id = event.features[0].properties.id;
    if (id) window.location.assign(`/deployments/${id}`);
    else map.easeTo({ center: event.lngLat, zoom: Math.max(map.getZoom() + 3, 12) });
  });
  map.on("click", "clusters", (event) => {
    map.easeTo({ center: event.lngLat, zoom: map.getZoom() + 2 });
  });
  for (const layer of ["cameras", "clusters"]) {
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
  }
  element.mapLibre = map; // for tests and for the curious, in the console
}

const element = document.getElementById("map");
if (element && element.dataset.tiles && window.maplibregl && maplibregl.supported !== false) {
  start(element);
}
