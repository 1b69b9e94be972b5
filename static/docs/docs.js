// The API reference: renders /openapi.json (operations by tag, parameters, bodies,
// responses and schemas) and lets a reader send a request from each operation.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];
let doc = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function resolve(schema) {
  let s = schema || {};
  const seen = new Set();
  while (s.$ref && !seen.has(s.$ref)) {
    seen.add(s.$ref);
    s = s.$ref.split("/").slice(1).reduce((o, k) => (o || {})[k], doc) || {};
  }
  return s;
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

// A schema as a compact, TypeScript-like outline.
function outline(schema, depth, seen) {
  depth = depth || 0;
  seen = seen || new Set();
  const pad = "  ".repeat(depth);
  const name = refName(schema);
  if (name && seen.has(name)) return name;
  if (name === "ErrorCode") return "ErrorCode";
  const s = resolve(schema);
  const next = name ? new Set([...seen, name]) : seen;
  const variants = s.oneOf || s.anyOf;
  if (variants) {
    return variants.map((v) => outline(v, depth, next)).join(" | ");
  }
  let type = s.type;
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== "null");
    const inner = outline({ ...s, type: nonNull.length === 1 ? nonNull[0] : nonNull }, depth, next);
    return type.includes("null") ? inner + " | null" : inner;
  }
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (type === "array") return outline(s.items, depth, next) + "[]";
  if (type === "object" || s.properties) {
    const props = s.properties || {};
    const required = new Set(s.required || []);
    const lines = Object.entries(props).map(([k, v]) => {
      const d = resolve(v).description || v.description;
      const comment = d ? "  // " + d.split("\n")[0] : "";
      return pad + "  " + k + (required.has(k) ? "" : "?") + ": " + outline(v, depth + 1, next) + comment;
    });
    if (s.additionalProperties) {
      lines.push(pad + "  [key: string]: " + outline(s.additionalProperties, depth + 1, next));
    }
    return "{\n" + lines.join("\n") + "\n" + pad + "}";
  }
  let t = type || "any";
  if (s.format) t += " (" + s.format + ")";
  return t;
}

// A skeleton request body for the try-it form.
function example(schema, seen) {
  seen = seen || new Set();
  const name = refName(schema);
  if (name && seen.has(name)) return null;
  const s = resolve(schema);
  const next = name ? new Set([...seen, name]) : seen;
  if (s.oneOf || s.anyOf) return example((s.oneOf || s.anyOf).find((v) => resolve(v).type !== "null"), next);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  if (s.enum) return s.enum[0];
  if (type === "array") return [example(s.items, next)];
  if (type === "object" || s.properties) {
    const out = {};
    for (const [k, v] of Object.entries(s.properties || {})) out[k] = example(v, next);
    return out;
  }
  if (type === "integer") return s.minimum > 0 ? s.minimum : 1;
  if (type === "number") return 0;
  if (type === "boolean") return false;
  if (s.format === "date-time") return new Date().toISOString();
  return "";
}

function opId(method, path) {
  return (method + path).replace(/[^a-zA-Z0-9]+/g, "-");
}

function renderParams(params) {
  if (!params.length) return null;
  return el("table", {},
    el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "description")),
    params.map((p) => {
      const s = resolve(p.schema);
      const limits = [];
      if (s.minimum !== undefined) limits.push("≥ " + s.minimum);
      if (s.exclusiveMinimum !== undefined) limits.push("> " + s.exclusiveMinimum);
      if (s.maximum !== undefined) limits.push("≤ " + s.maximum);
      if (s.maxLength !== undefined) limits.push("≤ " + s.maxLength + " chars");
      return el("tr", {},
        el("td", {}, el("code", {}, p.name), p.required ? " *" : ""),
        el("td", {}, p.in),
        el("td", {}, outline(p.schema), limits.length ? el("div", { class: "muted" }, limits.join(", ")) : null),
        el("td", {}, p.description || ""));
    }));
}

function renderResponses(responses) {
  return el("table", {},
    el("tr", {}, el("th", {}, "status"), el("th", {}, "description"), el("th", {}, "body")),
    Object.entries(responses || {}).map(([code, r]) => {
      const content = r.content || {};
      const [type, media] = Object.entries(content)[0] || [];
      let body = type || "";
      if (media && media.schema && refName(media.schema) === "ErrorBody") {
        body = el("a", { href: "#errors" }, "the error envelope");
      } else if (media && media.schema) {
        body = el("div", { class: "schema" }, outline(media.schema));
      }
      return el("tr", {},
        el("td", { class: "status s" + code[0] }, code),
        el("td", {}, r.description || ""),
        el("td", {}, body));
    }));
}

function tryIt(method, path, op) {
  const params = op.parameters || [];
  const inputs = {};
  const form = el("form", {});
  for (const p of params) {
    const input = el("input", { name: p.name, placeholder: p.required ? "required" : "optional" });
    inputs[p.name] = [p, input];
    form.append(el("label", {}, p.name + " (" + p.in + ")"), input);
  }
  let bodyInput = null;
  const media = op.requestBody && (op.requestBody.content || {})["application/json"];
  if (media) {
    bodyInput = el("textarea", { name: "body" });
    bodyInput.value = JSON.stringify(example(media.schema), null, 2);
    form.append(el("label", {}, "JSON body"), bodyInput);
  }
  const out = el("div", { class: "result" });
  form.append(el("button", { type: "submit" }, "Send"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    for (const [name, [p, input]] of Object.entries(inputs)) {
      const v = input.value;
      if (p.in === "path") url = url.replace("{" + name + "}", encodeURIComponent(v));
      else if (p.in === "query" && v !== "") query.set(name, v);
    }
    if ([...query].length) url += "?" + query.toString();
    const headers = {};
    const token = document.getElementById("token").value.trim();
    if (token) headers.Authorization = "Bearer " + token;
    const init = { method: method.toUpperCase(), headers };
    if (bodyInput) {
      headers["Content-Type"] = "application/json";
      init.body = bodyInput.value;
    }
    out.replaceChildren(el("p", { class: "muted" }, init.method + " " + url + " …"));
    const started = performance.now();
    try {
      const res = await fetch(url, init);
      const text = await res.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
      const ms = (performance.now() - started).toFixed(1);
      out.replaceChildren(
        el("p", {}, el("span", { class: "status s" + String(res.status)[0] }, res.status + " " + res.statusText),
          " · " + ms + " ms · X-Request-Id " + (res.headers.get("x-request-id") || "-")),
        el("pre", {}, shown));
    } catch (err) {
      out.replaceChildren(el("p", { class: "s5" }, String(err)));
    }
  });
  return el("details", { class: "try" }, el("summary", {}, "Try it"), form, out);
}

function render() {
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  document.getElementById("version").textContent = "OpenAPI " + doc.openapi + " · v" + doc.info.version;
  const byTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, { tag: { name: tag }, ops: [] });
      byTag.get(tag).ops.push({ method, path, op });
    }
  }
  const errors = doc.components && doc.components.schemas && doc.components.schemas.ErrorBody;
  const codes = (resolve({ $ref: "#/components/schemas/ErrorCode" }).enum || []);
  main.replaceChildren(
    el("h1", {}, doc.info.title),
    el("p", { class: "intro" }, doc.info.description || ""),
    errors ? el("section", { class: "op errors", id: "errors" },
      el("h3", {}, "The error envelope"),
      el("p", {}, "Every 4xx and 5xx answer has this body; the status follows from the code."),
      el("div", { class: "schema" }, outline({ $ref: "#/components/schemas/ErrorBody" })),
      el("p", {}, "Codes: ", codes.map((c) => el("code", {}, c)))) : null);
  for (const { tag, ops } of byTag.values()) {
    if (!ops.length) continue;
    nav.append(el("h4", {}, tag.name));
    main.append(el("h2", { id: "tag-" + tag.name }, tag.name), tag.description ? el("p", { class: "muted" }, tag.description) : null);
    for (const { method, path, op } of ops) {
      const id = opId(method, path);
      nav.append(el("a", { href: "#" + id, "data-text": (method + " " + path + " " + (op.summary || "")).toLowerCase() },
        el("span", { class: "method m-" + method }, method), path));
      const secured = (op.security || []).some((s) => Object.keys(s).length) &&
        !(op.security || []).some((s) => !Object.keys(s).length);
      const media = op.requestBody && (op.requestBody.content || {})["application/json"];
      main.append(el("section", { class: "op", id },
        el("h3", {}, el("span", { class: "method m-" + method }, method), el("span", { class: "path" }, path),
          secured ? el("span", { class: "lock" }, "needs a token") : null),
        el("p", {}, op.summary || ""),
        op.description && op.description !== op.summary ? el("p", { class: "muted" }, op.description) : null,
        renderParams(op.parameters || []),
        media ? [el("h4", {}, "Request body"), el("div", { class: "schema" }, outline(media.schema))] : null,
        el("h4", {}, "Responses"),
        renderResponses(op.responses),
        tryIt(method, path, op)));
    }
  }
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

function setUp() {
  const token = document.getElementById("token");
  token.value = localStorage.getItem("groupscout.token") || "";
  token.addEventListener("change", () => localStorage.setItem("groupscout.token", token.value.trim()));
  document.getElementById("filter").addEventListener("input", (e) => {
    const q = e.target.value.toLowerCase();
    for (const a of document.querySelectorAll("nav a")) a.hidden = q && !a.dataset.text.includes(q);
  });
  fetch("/openapi.json")
    .then((r) => r.json())
    .then((d) => { doc = d; render(); })
    .catch((err) => {
      document.getElementById("main").replaceChildren(el("p", { class: "s5" }, "Could not load /openapi.json: " + err));
    });
}

setUp();
