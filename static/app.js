// The discovery page: search with suggestions and category chips, the nearby plot, and a
// group's detail with the join button. Plain JavaScript against the public API (SPEC §2);
// the address holds the whole state, so every view can be linked, shared and reloaded.
"use strict";

(() => {
  // The category list of the service (id, label), in its order.
  const CATEGORY_LIST = JSON.parse(document.getElementById("categories").textContent || "[]");
  const CATEGORIES = Object.fromEntries(CATEGORY_LIST);
  const CATEGORY_IDS = CATEGORY_LIST.map(([id]) => id);
  const TOKEN_KEY = "groupscout.token";
  const PAGE_SIZE = 20;
  const NEARBY_PAGE_SIZE = 50;
  const CITIES = [
    ["北京", 39.9042, 116.4074],
    ["上海", 31.2304, 121.4737],
    ["广州", 23.1291, 113.2644],
    ["深圳", 22.5431, 114.0579],
    ["成都", 30.5728, 104.0668],
    ["杭州", 30.2741, 120.1551],
  ];
  const ROLE_LABELS = { owner: "你是群主", admin: "你是群管理", member: "你已在群中", pending: "已申请，等待审核", none: "尚未加入" };

  const $ = (id) => document.getElementById(id);

  // ---- small helpers -------------------------------------------------------------------

  /** Builds an element; strings become text nodes, so user text is never parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const categoryLabel = (id) => CATEGORIES[id] || id;

  /** A hue per category, spread around the colour wheel in the list's order. */
  function categoryHue(id) {
    const i = CATEGORY_IDS.indexOf(id);
    return i < 0 ? 220 : Math.round((i * 137.508) % 360);
  }

  function categoryBadge(id) {
    const badge = el("span", { class: "badge", dataset: { category: id } }, categoryLabel(id));
    badge.style.setProperty("--hue", categoryHue(id));
    return badge;
  }

  function formatDistance(m) {
    if (m < 1000) return `${Math.round(m)} m`;
    return `${(m / 1000).toFixed(m < 10000 ? 2 : 1)} km`;
  }

  const formatCount = (n) => (n === null || n === undefined ? "—" : String(n));

  /**
   * The card's `highlight` is the name with matches in `<em>…</em>` and everything else
   * HTML-escaped. It is read here as data, not parsed as HTML: the marks become <mark>
   * elements and the rest text, and if the text differs from the name the name is shown.
   */
  function highlightedName(card) {
    const fragment = document.createDocumentFragment();
    if (typeof card.highlight !== "string") {
      fragment.append(card.name);
      return fragment;
    }
    const entities = { lt: "<", gt: ">", amp: "&", quot: '"', "#39": "'" };
    const nodes = [];
    let marked = false;
    let plain = "";
    for (const part of card.highlight.split(/(<\/?em>)/)) {
      if (part === "<em>") marked = true;
      else if (part === "</em>") marked = false;
      else if (part) {
        const text = part.replace(/&(lt|gt|amp|quot|#39);/g, (_, name) => entities[name]);
        plain += text;
        nodes.push(marked ? el("mark", {}, text) : document.createTextNode(text));
      }
    }
    if (plain !== card.name) fragment.append(card.name);
    else fragment.append(...nodes);
    return fragment;
  }

  function placeOf(card) {
    const area = [card.city, card.district].filter(Boolean).join(" ");
    return card.place_name || area || "未设置地点";
  }

  let toastTimer = 0;
  function toast(message) {
    const box = $("toast");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (box.hidden = true), 5000);
  }

  // ---- the API -------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }

  function token() {
    try {
      return localStorage.getItem(TOKEN_KEY) || "";
    } catch {
      return "";
    }
  }

  /** Calls the API; a 4xx/5xx answer becomes an ApiError carrying the error envelope. */
  async function api(path, { method = "GET", body, auth = false } = {}) {
    const headers = { Accept: "application/json" };
    if (auth && token()) headers.Authorization = `Bearer ${token()}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", "无法连接服务，请稍后再试");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const e = (data && data.error) || {};
      throw new ApiError(response.status, e.code || `http_${response.status}`, e.message || response.statusText, e.field);
    }
    return data;
  }

  const query = (params) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined && v !== false) p.set(k, v);
    return p.toString();
  };

  // ---- state in the address ------------------------------------------------------------

  function readState() {
    const p = new URLSearchParams(location.search);
    const s = {
      q: p.get("q") || "",
      category: p.get("category") || "",
      sort: p.get("sort") || "",
      has_room: p.get("has_room") === "true",
      open_join: p.get("open_join") === "true",
      lat: p.get("lat") || "",
      lon: p.get("lon") || "",
      radius_km: p.get("radius_km") || "",
      group: p.get("group") || "",
    };
    s.view = (s.lat && s.lon) || p.get("view") === "nearby" ? "nearby" : "search";
    return s;
  }

  function urlOf(s) {
    const p = new URLSearchParams();
    if (s.view === "nearby") {
      if (s.lat && s.lon) {
        p.set("lat", s.lat);
        p.set("lon", s.lon);
        if (s.radius_km) p.set("radius_km", s.radius_km);
      } else {
        p.set("view", "nearby");
      }
      if (s.category) p.set("category", s.category);
    } else {
      if (s.q) p.set("q", s.q);
      if (s.category) p.set("category", s.category);
      if (s.sort) p.set("sort", s.sort);
      if (s.has_room) p.set("has_room", "true");
      if (s.open_join) p.set("open_join", "true");
    }
    if (s.group) p.set("group", s.group);
    const qs = p.toString();
    return qs ? `/?${qs}` : "/";
  }

  let state = readState();

  /** Moves to a new state: a new history entry (or the current one replaced), then shows it. */
  function go(patch, { replace = false } = {}) {
    const next = { ...state, ...patch };
    const url = urlOf(next);
    if (url !== location.pathname + location.search) history[replace ? "replaceState" : "pushState"](null, "", url);
    render();
  }

  /** A plain click on a link within the page moves by history; other clicks open tabs. */
  function followInPage(event, patch) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go(patch);
  }

  // ---- rendering -----------------------------------------------------------------------

  let searchKey = null;
  let nearbyKey = null;
  let detailId = "";
  let lastSearchUrl = "/";
  let lastNearbyUrl = "/?view=nearby";

  function render() {
    state = readState();
    const nearby = state.view === "nearby";
    $("search-view").hidden = nearby;
    $("nearby-view").hidden = !nearby;
    $("tab-search").setAttribute("aria-current", nearby ? "false" : "page");
    $("tab-nearby").setAttribute("aria-current", nearby ? "page" : "false");
    // Each tab returns to the last place shown in its view.
    if (nearby) lastNearbyUrl = urlOf({ ...state, group: "" });
    else lastSearchUrl = urlOf({ ...state, group: "" });
    $("tab-search").href = lastSearchUrl;
    $("tab-nearby").href = lastNearbyUrl;

    if (nearby) {
      document.title = "附近的群 · 群探";
      fillNearbyForm();
      const key = state.lat && state.lon ? urlOf({ ...state, group: "" }) : "";
      if (key !== nearbyKey) {
        nearbyKey = key;
        if (key) runNearby(false);
        else clearNearby();
      }
    } else {
      document.title = state.q ? `${state.q} · 群探` : "群探 · 发现群聊";
      fillSearchForm();
      const key = urlOf({ ...state, group: "" });
      if (key !== searchKey) {
        searchKey = key;
        runSearch(false);
      }
    }

    if (state.group !== detailId) {
      detailId = state.group;
      if (detailId) openDetail(detailId);
      else closeDetail();
    }
  }

  // ---- search --------------------------------------------------------------------------

  let searchSeq = 0;
  let searchCursor = null;

  function fillSearchForm() {
    const q = $("q");
    if (document.activeElement !== q || q.value.trim() !== state.q) q.value = state.q;
    $("sort").value = state.sort;
    $("has-room").checked = state.has_room;
    $("open-join").checked = state.open_join;
  }

  function searchParams(cursor) {
    return query({
      q: state.q,
      category: state.category,
      sort: state.sort,
      has_room: state.has_room ? "true" : "",
      open_join: state.open_join ? "true" : "",
      limit: PAGE_SIZE,
      cursor,
    });
  }

  async function runSearch(more) {
    const seq = ++searchSeq;
    const results = $("results");
    results.classList.add("loading");
    $("more").disabled = true;
    try {
      const data = await api(`/v1/search?${searchParams(more ? searchCursor : "")}`);
      if (seq !== searchSeq) return;
      if (!more) {
        results.replaceChildren();
        renderChips(data.facets && data.facets.category ? data.facets.category : {});
      }
      results.append(...data.groups.map((c) => cardElement(c)));
      searchCursor = data.next_cursor || null;
      $("more").hidden = !searchCursor;
      const shown = results.children.length;
      $("summary").replaceChildren(
        data.total === 0
          ? emptyMessage()
          : el("span", {}, "找到 ", el("strong", {}, String(data.total)), " 个群", shown < data.total ? `，已显示 ${shown} 个` : "")
      );
    } catch (e) {
      if (seq !== searchSeq) return;
      if (!more) results.replaceChildren();
      $("summary").replaceChildren(el("span", { class: "error-text" }, `搜索失败：${e.message}`));
    } finally {
      if (seq === searchSeq) {
        results.classList.remove("loading");
        $("more").disabled = false;
      }
    }
  }

  function emptyMessage() {
    return el("span", { class: "empty" }, state.q ? `没有找到与“${state.q}”相关的群，换个关键词试试。` : "还没有可以展示的群。");
  }

  function renderChips(facets) {
    const entries = Object.entries(facets).filter(([, n]) => n > 0);
    if (state.category && !entries.some(([id]) => id === state.category)) entries.push([state.category, 0]);
    entries.sort((a, b) => b[1] - a[1] || CATEGORY_IDS.indexOf(a[0]) - CATEGORY_IDS.indexOf(b[0]));
    const all = entries.reduce((sum, [, n]) => sum + n, 0);
    const chip = (id, text, count) => {
      const active = state.category === id;
      const link = el(
        "a",
        {
          class: "chip",
          href: urlOf({ ...state, category: id, group: "" }),
          "aria-pressed": active ? "true" : "false",
          dataset: { category: id },
          onclick: (event) => followInPage(event, { category: id, group: "" }),
        },
        el("span", { class: "chip-label" }, text),
        el("span", { class: "chip-count" }, String(count))
      );
      if (id) link.style.setProperty("--hue", categoryHue(id));
      return link;
    };
    $("chips").replaceChildren(chip("", "全部", all), ...entries.map(([id, n]) => chip(id, categoryLabel(id), n)));
  }

  function stat(label, value, extra) {
    return el("div", { class: `stat${extra ? ` ${extra}` : ""}` }, el("dt", {}, label), el("dd", {}, value));
  }

  function cardElement(card) {
    const full = card.member_count >= card.capacity;
    const link = el(
      "a",
      {
        class: "card",
        href: urlOf({ ...state, group: String(card.id) }),
        dataset: { id: card.id, category: card.category },
        onclick: (event) => followInPage(event, { group: String(card.id) }),
      },
      el(
        "div",
        { class: "card-head" },
        el("h3", { class: "card-name" }, highlightedName(card)),
        categoryBadge(card.category)
      ),
      el(
        "p",
        { class: "card-place" },
        el("span", { class: "pin", "aria-hidden": "true" }),
        el("span", { class: "place-text" }, placeOf(card)),
        card.distance_m !== undefined ? el("span", { class: "distance", dataset: { m: card.distance_m } }, formatDistance(card.distance_m)) : null
      ),
      el(
        "dl",
        { class: "stats" },
        stat("成员", `${card.member_count}/${card.capacity}`, full ? "full" : ""),
        stat("女生", formatCount(card.female_count)),
        stat("活跃", formatCount(card.active_members)),
        stat("平均年龄", formatCount(card.avg_age)),
        stat("昨日消息", formatCount(card.yesterday_messages))
      ),
      el(
        "p",
        { class: "card-foot" },
        el("span", { class: `join-mode${card.join_approval ? " approval" : ""}` }, card.join_approval ? "加群需审核" : "可直接加入"),
        full ? el("span", { class: "full-tag" }, "已满") : null,
        Array.isArray(card.reasons) ? card.reasons.map((r) => el("span", { class: "reason" }, r)) : null
      )
    );
    link.style.setProperty("--hue", categoryHue(card.category));
    return link;
  }

  // ---- suggestions ---------------------------------------------------------------------

  let suggestSeq = 0;
  let suggestTimer = 0;
  let suggestions = [];
  let activeSuggestion = -1;

  function hideSuggestions() {
    suggestSeq++;
    suggestions = [];
    activeSuggestion = -1;
    $("suggestions").hidden = true;
    $("suggestions").replaceChildren();
    $("q").setAttribute("aria-expanded", "false");
    $("q").removeAttribute("aria-activedescendant");
  }

  /** The suggestion's name with the typed text marked when it appears as it was typed. */
  function markTyped(name, typed) {
    const at = typed ? name.toLowerCase().indexOf(typed.toLowerCase()) : -1;
    if (at < 0) return name;
    return [name.slice(0, at), el("mark", {}, name.slice(at, at + typed.length)), name.slice(at + typed.length)];
  }

  async function fetchSuggestions() {
    const typed = $("q").value.trim();
    if (!typed) return hideSuggestions();
    const seq = ++suggestSeq;
    let data;
    try {
      data = await api(`/v1/suggest?${query({ q: typed })}`);
    } catch {
      if (seq === suggestSeq) hideSuggestions();
      return;
    }
    if (seq !== suggestSeq || document.activeElement !== $("q")) return;
    suggestions = data.suggestions || [];
    activeSuggestion = -1;
    const list = $("suggestions");
    list.replaceChildren(
      ...suggestions.map((s, i) =>
        el(
          "li",
          {
            id: `suggestion-${i}`,
            class: "suggestion",
            role: "option",
            "aria-selected": "false",
            dataset: { id: s.id },
            onmousedown: (event) => event.preventDefault(),
            onclick: () => pickSuggestion(i),
          },
          el("span", { class: "suggestion-name" }, markTyped(s.name, typed)),
          categoryBadge(s.category)
        )
      )
    );
    list.hidden = suggestions.length === 0;
    $("q").setAttribute("aria-expanded", suggestions.length ? "true" : "false");
  }

  function moveSuggestion(step) {
    if (!suggestions.length) return;
    activeSuggestion = (activeSuggestion + step + suggestions.length + 1) % (suggestions.length + 1);
    if (activeSuggestion === suggestions.length) activeSuggestion = -1;
    [...$("suggestions").children].forEach((li, i) => li.setAttribute("aria-selected", i === activeSuggestion ? "true" : "false"));
    if (activeSuggestion >= 0) $("q").setAttribute("aria-activedescendant", `suggestion-${activeSuggestion}`);
    else $("q").removeAttribute("aria-activedescendant");
  }

  /** A suggestion names one group: picking it opens that group's detail. */
  function pickSuggestion(i) {
    const s = suggestions[i];
    if (!s) return;
    hideSuggestions();
    go({ group: String(s.id) });
  }

  // ---- detail --------------------------------------------------------------------------

  let detailSeq = 0;
  let lastFocus = null;

  function closeDetail() {
    detailSeq++;
    const drawer = $("detail");
    if (drawer.hidden) return;
    drawer.hidden = true;
    document.body.classList.remove("drawer-open");
    if (lastFocus && document.contains(lastFocus)) lastFocus.focus();
  }

  async function openDetail(id, notice) {
    const seq = ++detailSeq;
    const drawer = $("detail");
    const body = $("detail-body");
    if (drawer.hidden) {
      lastFocus = document.activeElement;
      drawer.hidden = false;
      document.body.classList.add("drawer-open");
      body.replaceChildren(el("p", { class: "muted" }, "加载中…"));
      drawer.querySelector(".close").focus();
    }
    let group;
    let warning = "";
    try {
      group = await api(`/v1/groups/${encodeURIComponent(id)}`, { auth: true });
    } catch (e) {
      if (e.status === 401 && token()) {
        warning = `令牌无效或已过期（${e.message}），以下按未登录显示。`;
        try {
          group = await api(`/v1/groups/${encodeURIComponent(id)}`);
        } catch (again) {
          e = again;
        }
      }
      if (!group) {
        if (seq !== detailSeq) return;
        body.replaceChildren(
          el("h2", { id: "detail-name" }, "无法打开这个群"),
          el("p", { class: "error-text" }, e.status === 404 ? "这个群不存在，或者不对外展示。" : e.message)
        );
        return;
      }
    }
    if (seq !== detailSeq) return;
    body.replaceChildren(...detailContent(group, warning));
    if (notice) showJoinResult(notice.status, notice.text);
  }

  function detailContent(g, warning) {
    const parts = [];
    const head = el(
      "header",
      { class: "detail-head" },
      categoryBadge(g.category),
      el("h2", { id: "detail-name", class: "detail-name" }, g.name),
      el("p", { class: "card-place" }, el("span", { class: "pin", "aria-hidden": "true" }), placeOf(g), areaNote(g))
    );
    head.style.setProperty("--hue", categoryHue(g.category));
    parts.push(head);
    parts.push(
      el(
        "dl",
        { class: "stats big" },
        stat("成员", `${g.member_count}/${g.capacity}`),
        stat("女生人数", formatCount(g.female_count)),
        stat("活跃人数", formatCount(g.active_members)),
        stat("平均年龄", formatCount(g.avg_age)),
        stat("昨日消息", formatCount(g.yesterday_messages))
      )
    );
    if (g.female_count === null && g.member_count > 0) {
      parts.push(el("p", { class: "hint" }, "成员较少的群不显示女生人数和平均年龄，以保护个人隐私。"));
    }
    parts.push(section("群介绍", g.description || "群主还没有写介绍。"));
    if (g.announcement) parts.push(section("群公告", g.announcement));
    const admins = Array.isArray(g.admins) ? g.admins : [];
    parts.push(
      el(
        "section",
        { class: "detail-section" },
        el("h3", {}, "群设置"),
        el(
          "ul",
          { class: "facts" },
          el("li", {}, g.join_approval ? "加群需要群主或群管理审核" : "无需审核，可直接加入"),
          el("li", {}, g.members_can_invite ? "成员可以邀请好友" : "只有群主和群管理可以邀请"),
          admins.length ? el("li", {}, "群管理：", admins.map((a) => a.nickname).join("、")) : null
        )
      )
    );
    parts.push(joinSection(g, warning));
    return parts;
  }

  /** The city and district the coordinates fall in, when the place name does not say them. */
  function areaNote(g) {
    const place = g.place_name || "";
    const area = [g.city, g.district].filter((part) => part && !place.includes(part));
    if (!g.place_name || !area.length) return null;
    return el("span", { class: "muted" }, ` · ${area.join(" ")}`);
  }

  function section(title, text) {
    return el("section", { class: "detail-section" }, el("h3", {}, title), el("p", { class: "prose" }, text));
  }

  function joinSection(g, warning) {
    const box = el("section", { class: "detail-section join", id: "join-box" }, el("h3", {}, "加入"));
    if (warning) box.append(el("p", { class: "error-text" }, warning));
    const viewer = g.viewer;
    if (!viewer) {
      box.append(el("p", { class: "muted" }, "在页面右上角填写用户令牌后，可以在这里申请加群。"));
      box.append(el("p", { id: "join-result", class: "join-result", hidden: true }));
      return box;
    }
    const role = el("p", { class: "viewer", dataset: { role: viewer.role } }, el("strong", {}, ROLE_LABELS[viewer.role] || viewer.role));
    if (viewer.friends_in_group > 0) role.append(el("span", { class: "friends" }, `${viewer.friends_in_group} 位好友在群`));
    box.append(role);
    const full = g.member_count >= g.capacity;
    if (viewer.role === "none" || viewer.can_apply) {
      const message = el("input", { id: "join-message", type: "text", maxlength: "200", placeholder: g.join_approval ? "申请理由（可选）" : "打个招呼（可选）" });
      const button = el("button", { id: "join-button", type: "submit", class: "btn primary", disabled: !viewer.can_apply }, g.join_approval ? "申请加入" : "加入群聊");
      box.append(
        el(
          "form",
          { class: "join-form", onsubmit: (event) => { event.preventDefault(); join(g.id, message.value.trim(), button); } },
          message,
          button
        )
      );
      if (!viewer.can_apply) box.append(el("p", { class: "muted" }, full ? "这个群已满。" : "现在不能申请这个群。"));
    }
    box.append(el("p", { id: "join-result", class: "join-result", hidden: true, "aria-live": "polite" }));
    return box;
  }

  function showJoinResult(status, text) {
    const result = $("join-result");
    if (!result) return;
    result.hidden = false;
    result.dataset.status = status;
    result.textContent = text;
  }

  async function join(id, message, button) {
    button.disabled = true;
    let notice;
    try {
      const data = await api(`/v1/groups/${encodeURIComponent(id)}/join`, { method: "POST", body: message ? { message } : {}, auth: true });
      notice =
        data.status === "joined"
          ? { status: "joined", text: "已加入这个群（joined）" }
          : { status: "pending", text: "申请已提交，等待群主审核（pending）" };
    } catch (e) {
      notice = { status: "error", text: `没有加入：${e.message}（${e.code}）` };
    }
    if (String(id) !== detailId) return;
    if (notice.status === "error") {
      showJoinResult(notice.status, notice.text);
      button.disabled = false;
    } else {
      // The viewer's role and the counts changed: show the group again, then the outcome.
      await openDetail(String(id), notice);
      searchKey = null;
      nearbyKey = null;
    }
  }

  // ---- nearby --------------------------------------------------------------------------

  let nearbySeq = 0;
  let nearbyCursor = null;
  /** Everything the plot needs: the centre, the radius, and each group with its position. */
  let plot = { lat: 0, lon: 0, radius: 5, groups: [], hover: null };
  /** The two helper lists the bearings come from (see `locate`). */
  let probes = [];

  function fillNearbyForm() {
    const radius = state.radius_km || "5";
    if (![...$("radius").options].some((o) => o.value === radius)) $("radius").append(el("option", { value: radius }, `${radius} km`));
    $("radius").value = radius;
    $("lat").value = state.lat;
    $("lon").value = state.lon;
    $("nearby-category").value = state.category;
    for (const b of $("cities").children) {
      const on = state.lat && Math.abs(+b.dataset.lat - +state.lat) < 1e-4 && Math.abs(+b.dataset.lon - +state.lon) < 1e-4;
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  function clearNearby() {
    nearbySeq++;
    plot = { lat: 0, lon: 0, radius: +(state.radius_km || 5), groups: [], hover: null };
    $("nearby-results").replaceChildren();
    $("nearby-summary").textContent = "";
    $("nearby-more").hidden = true;
    $("plot-caption").textContent = "选择一个城市或输入坐标，查看周围的群。";
    drawPlot();
  }

  /**
   * Cards carry each group's distance from the point asked about, not its coordinates. The
   * same question asked from two more points, a little east and a little north, gives two
   * more distances, and the three fix where the group lies (trilateration on the local
   * plane). A group missing from those lists keeps its true distance and gets a bearing
   * from its id, drawn hollow.
   */
  function probeOrigins(lat, lon, radius) {
    const offset = radius * 0.3;
    const kmPerDegLat = 110.574;
    const kmPerDegLon = 111.32 * Math.cos((lat * Math.PI) / 180) || 1e-6;
    const probeRadius = Math.min(100, radius + offset);
    return [
      { axis: "x", offset, lat, lon: lon + offset / kmPerDegLon, radius: probeRadius, cursor: "", done: false, seen: new Map(), pages: 0 },
      { axis: "y", offset, lat: lat + offset / kmPerDegLat, lon, radius: probeRadius, cursor: "", done: false, seen: new Map(), pages: 0 },
    ].filter((p) => p.lat >= -90 && p.lat <= 90 && p.lon >= -180 && p.lon <= 180);
  }

  async function locate(groups, seq) {
    for (const probe of probes) {
      while (!probe.done && probe.pages < 8 && groups.some((g) => !probe.seen.has(g.id))) {
        const data = await api(`/v1/nearby?${query({ lat: probe.lat.toFixed(6), lon: probe.lon.toFixed(6), radius_km: probe.radius, category: state.category, limit: NEARBY_PAGE_SIZE, cursor: probe.cursor })}`);
        if (seq !== nearbySeq) return;
        for (const c of data.groups) probe.seen.set(c.id, c.distance_m / 1000);
        probe.pages++;
        probe.cursor = data.next_cursor || "";
        probe.done = !probe.cursor;
      }
    }
    for (const g of groups) {
      const d0 = g.distance_m / 1000;
      const coord = {};
      for (const probe of probes) {
        const d = probe.seen.get(g.id);
        if (d !== undefined) coord[probe.axis] = (d0 * d0 - d * d + probe.offset * probe.offset) / (2 * probe.offset);
      }
      let angle;
      if (coord.x !== undefined && coord.y !== undefined && (coord.x || coord.y)) {
        angle = Math.atan2(coord.y, coord.x);
        g.located = true;
      } else {
        angle = ((g.id * 2654435761) % 360) * (Math.PI / 180);
        g.located = false;
      }
      g.x = d0 * Math.cos(angle);
      g.y = d0 * Math.sin(angle);
    }
  }

  async function runNearby(more) {
    const seq = ++nearbySeq;
    const lat = +state.lat;
    const lon = +state.lon;
    const radius = +(state.radius_km || 5);
    const list = $("nearby-results");
    if (!more) {
      plot = { lat, lon, radius, groups: [], hover: null };
      probes = Number.isFinite(lat) && Number.isFinite(lon) ? probeOrigins(lat, lon, radius) : [];
      nearbyCursor = null;
    }
    list.classList.add("loading");
    $("nearby-more").disabled = true;
    try {
      const data = await api(`/v1/nearby?${query({ lat: state.lat, lon: state.lon, radius_km: state.radius_km, category: state.category, limit: NEARBY_PAGE_SIZE, cursor: more ? nearbyCursor : "" })}`);
      if (seq !== nearbySeq) return;
      try {
        await locate(data.groups, seq);
      } catch {
        for (const g of data.groups) {
          const angle = ((g.id * 2654435761) % 360) * (Math.PI / 180);
          Object.assign(g, { x: (g.distance_m / 1000) * Math.cos(angle), y: (g.distance_m / 1000) * Math.sin(angle), located: false });
        }
      }
      if (seq !== nearbySeq) return;
      if (!more) list.replaceChildren();
      plot.groups.push(...data.groups);
      list.append(...data.groups.map((c) => nearbyCard(c)));
      nearbyCursor = data.next_cursor || null;
      $("nearby-more").hidden = !nearbyCursor;
      const shown = plot.groups.length;
      $("nearby-summary").replaceChildren(
        data.total === 0
          ? el("span", { class: "empty" }, `${radius} km 内没有可以展示的群，试试扩大半径。`)
          : el("span", {}, `${radius} km 内有 `, el("strong", {}, String(data.total)), " 个群", shown < data.total ? `，已显示最近的 ${shown} 个` : "")
      );
      const unplaced = plot.groups.filter((g) => !g.located).length;
      $("plot-caption").textContent =
        `圆心 ${lat.toFixed(4)}, ${lon.toFixed(4)}；点的大小表示成员数，颜色表示分类。` + (unplaced ? `空心点方位未知（${unplaced} 个），距离准确。` : "");
      drawPlot();
    } catch (e) {
      if (seq !== nearbySeq) return;
      if (!more) {
        list.replaceChildren();
        plot.groups = [];
        drawPlot();
      }
      $("nearby-summary").replaceChildren(el("span", { class: "error-text" }, `查询失败：${e.message}`));
    } finally {
      if (seq === nearbySeq) {
        list.classList.remove("loading");
        $("nearby-more").disabled = false;
      }
    }
  }

  function nearbyCard(card) {
    const node = cardElement(card);
    node.addEventListener("mouseenter", () => setHover(card.id));
    node.addEventListener("mouseleave", () => setHover(null));
    node.addEventListener("focus", () => setHover(card.id));
    node.addEventListener("blur", () => setHover(null));
    return node;
  }

  function setHover(id) {
    if (plot.hover === id) return;
    plot.hover = id;
    for (const c of $("nearby-results").children) c.classList.toggle("hovered", c.dataset.id === String(id));
    drawPlot();
    const g = plot.groups.find((x) => x.id === id);
    const tip = $("tip");
    if (!g) {
      tip.hidden = true;
      return;
    }
    const { px, py } = toCanvas(g);
    tip.replaceChildren(el("strong", {}, g.name), el("span", {}, `${categoryLabel(g.category)} · ${formatDistance(g.distance_m)} · ${g.member_count} 人`));
    tip.hidden = false;
    // The tooltip sits above and right of the dot, inside the frame (the canvas is inset
    // by the frame's padding).
    const canvas = $("plot");
    const inset = canvas.offsetLeft;
    const left = Math.min(px + inset + 14, canvas.clientWidth + inset - tip.offsetWidth);
    tip.style.left = `${Math.max(inset, left)}px`;
    tip.style.top = `${py + inset - tip.offsetHeight - 12 < 0 ? py + inset + 14 : py + inset - tip.offsetHeight - 12}px`;
  }

  // ---- the plot ------------------------------------------------------------------------

  /** Ring distances in km: up to three round values within the radius, and the radius. */
  function ringsFor(radius) {
    const nice = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100].filter((d) => d < radius - 1e-9);
    const rings = nice.slice(-2);
    rings.push(radius);
    return rings;
  }

  function plotGeometry() {
    const canvas = $("plot");
    const size = canvas.clientWidth;
    const centre = size / 2;
    const scale = (size / 2 - 22) / (plot.radius || 5);
    return { canvas, size, centre, scale };
  }

  function toCanvas(g) {
    const { centre, scale } = plotGeometry();
    return { px: centre + g.x * scale, py: centre - g.y * scale };
  }

  function dotRadius(g) {
    return Math.min(13, 4 + Math.sqrt(g.member_count || 0) * 0.9);
  }

  function drawPlot() {
    const { canvas, size, centre, scale } = plotGeometry();
    if (!size) return;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(size * ratio)) {
      canvas.width = Math.round(size * ratio);
      canvas.height = Math.round(size * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, size, size);
    const font = '"Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';

    // The background, the compass lines and the distance rings.
    const bg = ctx.createRadialGradient(centre, centre, 0, centre, centre, size / 2);
    bg.addColorStop(0, "#fff6f8");
    bg.addColorStop(1, "#f3f5fa");
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = "rgba(22, 24, 35, 0.08)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(centre, 8);
    ctx.lineTo(centre, size - 8);
    ctx.moveTo(8, centre);
    ctx.lineTo(size - 8, centre);
    ctx.stroke();
    ctx.font = `600 11px ${font}`;
    ctx.fillStyle = "rgba(22, 24, 35, 0.45)";
    ctx.textAlign = "center";
    ctx.fillText("北", centre, 12);

    const rings = ringsFor(plot.radius || 5);
    rings.forEach((d, i) => {
      const r = d * scale;
      const outer = i === rings.length - 1;
      ctx.beginPath();
      ctx.setLineDash(outer ? [] : [4, 4]);
      ctx.strokeStyle = outer ? "rgba(254, 44, 85, 0.45)" : "rgba(22, 24, 35, 0.18)";
      ctx.lineWidth = outer ? 1.5 : 1;
      ctx.arc(centre, centre, r, 0, Math.PI * 2);
      ctx.stroke();
      ctx.setLineDash([]);
      const text = d < 1 ? `${Math.round(d * 1000)} m` : `${d} km`;
      const lx = centre + r * Math.cos(-Math.PI / 4);
      const ly = centre + r * Math.sin(-Math.PI / 4);
      ctx.font = `500 11px ${font}`;
      const w = ctx.measureText(text).width + 8;
      ctx.fillStyle = "rgba(255, 255, 255, 0.9)";
      ctx.fillRect(lx - w / 2, ly - 8, w, 16);
      ctx.fillStyle = outer ? "#d81f45" : "rgba(22, 24, 35, 0.6)";
      ctx.textBaseline = "middle";
      ctx.fillText(text, lx, ly);
      ctx.textBaseline = "alphabetic";
    });

    // The groups, farthest first so near ones stay on top; the hovered one last.
    const ordered = [...plot.groups].sort((a, b) => b.distance_m - a.distance_m);
    const hovered = ordered.find((g) => g.id === plot.hover);
    for (const g of ordered.filter((x) => x !== hovered).concat(hovered ? [hovered] : [])) {
      const px = centre + g.x * scale;
      const py = centre - g.y * scale;
      const r = dotRadius(g) + (g === hovered ? 3 : 0);
      const hue = categoryHue(g.category);
      ctx.beginPath();
      ctx.arc(px, py, r, 0, Math.PI * 2);
      if (g.located) {
        ctx.fillStyle = `hsla(${hue}, 72%, 52%, ${g === hovered ? 1 : 0.78})`;
        ctx.fill();
        ctx.strokeStyle = "#fff";
      } else {
        ctx.fillStyle = "rgba(255, 255, 255, 0.8)";
        ctx.fill();
        ctx.strokeStyle = `hsl(${hue}, 72%, 45%)`;
      }
      ctx.lineWidth = g === hovered ? 2.5 : 1.5;
      ctx.stroke();
    }

    // The centre point on top of everything.
    ctx.beginPath();
    ctx.arc(centre, centre, 7, 0, Math.PI * 2);
    ctx.fillStyle = "#fe2c55";
    ctx.fill();
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#fff";
    ctx.stroke();
    canvas.dataset.dots = String(plot.groups.length);
    canvas.dataset.rings = rings.join(",");
  }

  function groupAt(event) {
    const rect = $("plot").getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    let best = null;
    let bestDistance = Infinity;
    for (const g of plot.groups) {
      const { px, py } = toCanvas(g);
      const d = Math.hypot(px - x, py - y);
      if (d <= dotRadius(g) + 5 && d < bestDistance) {
        best = g;
        bestDistance = d;
      }
    }
    return best;
  }

  // ---- wiring --------------------------------------------------------------------------

  function showTokenState() {
    const t = token();
    let who = "未登录";
    if (t) {
      who = "已填写令牌";
      try {
        const payload = JSON.parse(atob(t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
        if (payload.sub) who = `用户 ${payload.sub}`;
      } catch {
        // Not a JWT the page can read; the service will say what is wrong with it.
      }
    }
    $("token-state").textContent = who;
    $("token-box").classList.toggle("signed-in", Boolean(t));
  }

  function wire() {
    // Search box, suggestions and filters.
    const q = $("q");
    q.addEventListener("input", () => {
      clearTimeout(suggestTimer);
      suggestTimer = setTimeout(fetchSuggestions, 120);
    });
    q.addEventListener("keydown", (event) => {
      if (event.isComposing || event.keyCode === 229) return;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        moveSuggestion(1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        moveSuggestion(-1);
      } else if (event.key === "Escape") {
        hideSuggestions();
      } else if (event.key === "Enter" && activeSuggestion >= 0) {
        event.preventDefault();
        pickSuggestion(activeSuggestion);
      }
    });
    q.addEventListener("blur", () => setTimeout(hideSuggestions, 100));
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(suggestTimer);
      hideSuggestions();
      go({ view: "search", q: q.value.trim(), group: "" });
    });
    $("sort").addEventListener("change", () => go({ sort: $("sort").value, group: "" }));
    $("has-room").addEventListener("change", () => go({ has_room: $("has-room").checked, group: "" }));
    $("open-join").addEventListener("change", () => go({ open_join: $("open-join").checked, group: "" }));
    $("more").addEventListener("click", () => runSearch(true));

    // Tabs and the brand are links; in the page they move by history.
    for (const id of ["tab-search", "tab-nearby", "brand"]) {
      $(id).addEventListener("click", (e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        const target = $(id).getAttribute("href");
        if (target !== location.pathname + location.search) history.pushState(null, "", target);
        render();
      });
    }

    // Nearby: cities, coordinates, the radius, "my location" and the plot.
    for (const [name, lat, lon] of CITIES) {
      $("cities").append(
        el("button", { type: "button", class: "city", dataset: { lat, lon }, "aria-pressed": "false", onclick: () => go({ view: "nearby", lat: String(lat), lon: String(lon), radius_km: $("radius").value, group: "" }) }, name)
      );
    }
    for (const id of CATEGORY_IDS) $("nearby-category").append(el("option", { value: id }, categoryLabel(id)));
    $("nearby-form").addEventListener("submit", (event) => {
      event.preventDefault();
      go({ view: "nearby", lat: $("lat").value.trim(), lon: $("lon").value.trim(), radius_km: $("radius").value, category: $("nearby-category").value, group: "" });
    });
    const refresh = () => {
      if (state.lat && state.lon) go({ radius_km: $("radius").value, category: $("nearby-category").value, group: "" });
    };
    $("radius").addEventListener("change", refresh);
    $("nearby-category").addEventListener("change", refresh);
    if ("geolocation" in navigator && window.isSecureContext) {
      $("locate").hidden = false;
      $("locate").addEventListener("click", () => {
        $("locate").disabled = true;
        navigator.geolocation.getCurrentPosition(
          (pos) => {
            $("locate").disabled = false;
            go({ view: "nearby", lat: pos.coords.latitude.toFixed(5), lon: pos.coords.longitude.toFixed(5), radius_km: $("radius").value, group: "" });
          },
          (err) => {
            $("locate").disabled = false;
            toast(`无法获取你的位置：${err.message || "已拒绝"}`);
          },
          { timeout: 10000, maximumAge: 60000 }
        );
      });
    }
    $("nearby-more").addEventListener("click", () => runNearby(true));
    const canvas = $("plot");
    canvas.addEventListener("mousemove", (event) => {
      const g = groupAt(event);
      canvas.style.cursor = g ? "pointer" : "default";
      setHover(g ? g.id : null);
    });
    canvas.addEventListener("mouseleave", () => setHover(null));
    canvas.addEventListener("click", (event) => {
      const g = groupAt(event);
      if (g) go({ group: String(g.id) });
    });
    if ("ResizeObserver" in window) new ResizeObserver(() => drawPlot()).observe(canvas);
    else window.addEventListener("resize", drawPlot);

    // The detail drawer.
    for (const node of document.querySelectorAll("[data-close]")) node.addEventListener("click", () => go({ group: "" }));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !$("detail").hidden) go({ group: "" });
    });

    // The token.
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      try {
        localStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
      } catch {
        toast("无法保存令牌：浏览器不允许本地存储");
      }
      $("token-input").value = "";
      $("token-box").open = false;
      showTokenState();
      if (detailId) openDetail(detailId);
    });
    $("token-clear").addEventListener("click", () => {
      try {
        localStorage.removeItem(TOKEN_KEY);
      } catch {
        // Nothing stored, nothing to clear.
      }
      showTokenState();
      if (detailId) openDetail(detailId);
    });

    window.addEventListener("popstate", render);
  }

  wire();
  showTokenState();
  render();
})();
