/* iamviz graph pages: draw the server's graph with Cytoscape.js, nothing more.
 *
 * The server computes every position (the `preset` layout), so the same URL gives the same
 * picture. This file reads the data from the `#graph-data` island (the view's JSON less what
 * this file derives, identities/graph/serialise.py: browser_island), draws it, and
 * wires the few interactions htmx cannot express: a tap on a node loads its panel into
 * #node-panel, a double tap expands it, a tap on a folded node lists its members, hovering a
 * conditional edge shows its conditions, a tap on a bundle of parallel edges draws them apart,
 * and PNG export. Elements may carry `classes` of their own (the changes highlight,
 * identities/graph/highlight.py): they are added as they are. The URL keeps the selected node
 * (history.replaceState); every other change of view is an htmx request that pushes its URL.
 * `window.iamvizGraphTimings` keeps how long each step of the last draw took (bench/graph.py).
 * No inline script, no framework.
 */
(function () {
  "use strict";

  var cy = null;
  var currentView = null;
  // Members of the bundles drawn closed, by bundle id; the bundles opened on this page.
  var bundledMembers = {};
  var openBundles = {};
  var currentChanges = null;
  var BIG = 600;

  function cssVar(element, name, fallback) {
    var value = getComputedStyle(element).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette(container) {
    return {
      text: cssVar(container, "--iv-graph-text", "#0f172a"),
      muted: cssVar(container, "--iv-graph-muted", "#475569"),
      edge: cssVar(container, "--iv-graph-edge", "#7b8794"),
      box: cssVar(container, "--iv-graph-box", "#f8fafc"),
      boxBorder: cssVar(container, "--iv-graph-box-border", "#cbd5e1"),
      highlight: cssVar(container, "--iv-graph-highlight", "#1d4ed8"),
      background: cssVar(container, "--iv-graph-bg", "#ffffff"),
    };
  }

  var KIND_COLOURS = {
    user: ["#dbeafe", "#1d4ed8"],
    group: ["#ccfbf1", "#0f766e"],
    role: ["#ede9fe", "#6d28d9"],
    "policy-aws": ["#ffedd5", "#c2410c"],
    "policy-customer": ["#fef3c7", "#b45309"],
    inline: ["#f1f5f9", "#475569"],
    service: ["#e0e7ff", "#4338ca"],
    federated: ["#fae8ff", "#a21caf"],
    account: ["#fee2e2", "#b91c1c"],
    external: ["#fee2e2", "#b91c1c"],
    anyone: ["#fecaca", "#991b1b"],
    "access-group": ["#e0f2fe", "#0369a1"],
    aggregate: ["#f8fafc", "#334155"],
  };

  var DEFAULT_COLOURS = ["#f8fafc", "#334155"];

  var SHAPES = {
    service: "round-hexagon",
    federated: "round-diamond",
    anyone: "round-octagon",
    account: "round-tag",
    external: "round-tag",
    "access-group": "barrel",
    "policy-aws": "round-rectangle",
  };

  function style(p, big) {
    var rules = [
      {
        selector: "node",
        style: {
          label: "data(display)",
          "font-size": 12,
          "font-family": "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif",
          color: "#0f172a",
          "text-valign": "center",
          "text-halign": "center",
          "text-wrap": "wrap",
          "text-max-width": 260,
          width: "data(w)",
          height: "data(h)",
          // Each kind's colours and shape travel with the node (elementsOf): one rule to
          // match instead of one per kind, for every node drawn.
          shape: "data(shape)",
          "background-color": "data(bg)",
          "border-color": "data(bc)",
          "border-width": 1.5,
          // Labels smaller than this on screen are not drawn: unreadable, and slow on big views.
          "min-zoomed-font-size": big ? 7 : 5,
        },
      },
      {
        selector: "node.column",
        style: {
          "background-opacity": 0,
          "border-width": 0,
          color: p.muted,
          "font-size": 14,
          "font-weight": "bold",
          events: "no",
          "text-transform": "uppercase",
        },
      },
      {
        selector: "node.box",
        style: {
          shape: "round-rectangle",
          "background-color": p.box,
          "background-opacity": 0.9,
          "border-color": p.boxBorder,
          "border-width": 1,
          color: p.text,
          "font-weight": "bold",
          "font-size": 13,
          "text-valign": "top",
          "text-halign": "center",
          "text-margin-y": -6,
          "text-max-width": 600,
          "z-compound-depth": "bottom",
          events: "no",
        },
      },
      { selector: "node.box.outside", style: { "border-style": "dashed", "border-color": "#b91c1c" } },
      {
        selector: "node.aggregate",
        style: { "border-width": 4, "border-style": "double", "font-weight": "bold" },
      },
      { selector: "node.inline", style: { "border-style": "dashed" } },
      { selector: "node.account, node.external", style: { "border-style": "dashed" } },
      { selector: "node.anyone", style: { "border-width": 3, "font-weight": "bold" } },
      { selector: "node.admin", style: { "border-width": 3, "border-color": "#b91c1c" } },
      {
        selector: "edge",
        style: {
          width: 1.4,
          "line-color": p.edge,
          "target-arrow-color": p.edge,
          "target-arrow-shape": "triangle",
          "arrow-scale": 0.9,
          "curve-style": big ? "straight" : "bezier",
          opacity: 0.85,
        },
      },
      { selector: "edge.member, edge.attached, edge.inline", style: { width: 1.1 } },
      { selector: "edge.boundary", style: { "line-style": "dashed", "line-color": "#b91c1c", "target-arrow-color": "#b91c1c" } },
      {
        selector: "edge.conditional",
        style: {
          "line-style": "dashed",
          "line-dash-pattern": [7, 4],
          "line-color": "#b45309",
          "target-arrow-color": "#b45309",
          "target-arrow-shape": "triangle-tee",
        },
      },
      { selector: "edge.denied", style: { "line-style": "dotted", opacity: 0.6, "target-arrow-shape": "tee" } },
      { selector: "edge.from-anyone", style: { "line-color": "#b91c1c", "target-arrow-color": "#b91c1c", width: 2.2 } },
      { selector: "edge.folded", style: { width: "mapData(count, 1, 200, 1.5, 7)" } },
      { selector: "edge.in-group", style: { "line-color": "#0369a1", "target-arrow-color": "#0369a1", "target-arrow-shape": "circle", width: 1.1 } },
      // Escalations (a principal becomes another one without sts:AssumeRole): their own
      // colour and a chevron; dashed when conditional, dotted when only potential.
      {
        selector: "edge.escalate",
        style: { "line-color": "#be123c", "target-arrow-color": "#be123c", "target-arrow-shape": "chevron", width: 2, "line-style": "solid" },
      },
      { selector: "edge.escalate.conditional", style: { "line-style": "dashed", "line-dash-pattern": [7, 4] } },
      { selector: "edge.escalate.potential", style: { "line-style": "dotted", opacity: 0.75 } },
      {
        // The server routes an edge whose straight line would run through a node it does not
        // join (identities/graph/layout.py): its waypoints relative to the nodes' centres.
        selector: "edge.routed",
        style: {
          // Square corners: rounded ones cost a fifth more to draw on a view of 400 edges.
          "curve-style": "segments",
          "segment-distances": "data(sd)",
          "segment-weights": "data(sw)",
          "edge-distances": "node-position",
        },
      },
      // Parallel edges drawn as one (bundlesOf): thicker, and how many it holds once zoomed
      // in (showCounts): at the opening zoom the counts would crowd the gaps, and measuring
      // their labels would slow the first draw.
      { selector: "edge.bundle", style: { width: 3 } },
      {
        selector: "edge.bundle.counted",
        style: {
          label: "data(label)",
          "font-size": 12,
          "font-weight": "bold",
          color: p.text,
          "text-background-color": p.background,
          "text-background-opacity": 0.85,
          "text-background-padding": 1,
        },
      },
      // Changes since a sync (or of a what-if): new edges green and thick, removed ones dashed.
      {
        selector: "edge.change-added",
        style: { "line-color": "#15803d", "target-arrow-color": "#15803d", width: 3.2, opacity: 1, "z-index": 15 },
      },
      {
        selector: "edge.change-removed",
        style: { "line-color": "#9f1239", "target-arrow-color": "#9f1239", "line-style": "dashed", "line-dash-pattern": [5, 5], width: 2, opacity: 0.8 },
      },
      { selector: "node.change-end", style: { "underlay-color": "#15803d", "underlay-opacity": 0.22, "underlay-padding": 6 } },
      { selector: ".faded", style: { opacity: 0.18 } },
      {
        selector: "node.hl",
        style: { "border-width": 4, "border-color": p.highlight, opacity: 1, "z-index": 20 },
      },
      {
        selector: "edge.hl",
        style: {
          width: 4,
          "line-color": p.highlight,
          "target-arrow-color": p.highlight,
          opacity: 1,
          "z-index": 20,
          label: "data(hop)",
          "font-size": 12,
          "font-weight": "bold",
          color: p.highlight,
          "text-background-color": p.background,
          "text-background-opacity": 1,
          "text-background-padding": 2,
        },
      },
      {
        selector: "node:selected",
        style: { "border-width": 4, "border-color": "#f59e0b", "overlay-opacity": 0 },
      },
      { selector: "edge:selected", style: { width: 4, "line-color": "#f59e0b", "target-arrow-color": "#f59e0b" } },
    ];
    return rules;
  }

  // What the server leaves out of the island where it is derived here, as
  // identities/graph/serialise.py (browser_island) checked it would be: a node's panel URL,
  // tooltip and folded members' list, an edge's id and summary.
  function pythonQuote(text) {
    // Python's urllib.parse.quote(text, safe=":/@+=,.-_*"), as NodeUrls.panel_url quotes a key.
    return encodeURIComponent(text)
      .replace(/%(3A|2F|40|2B|3D|2C)/g, function (match, hex) {
        return String.fromCharCode(parseInt(hex, 16));
      })
      .replace(/[!'()]/g, function (c) {
        return "%" + c.charCodeAt(0).toString(16).toUpperCase();
      });
  }

  function pythonUrlencode(query) {
    // Python's urllib.parse.urlencode(query), as folded_members_url builds its query.
    return new URLSearchParams(query).toString().replace(/\*/g, "%2A").replace(/%7E/g, "~");
  }

  var NO_PANEL = { aggregate: true, column: true, box: true };

  function nodePanelUrl(links, id) {
    var colon = id.indexOf(":");
    var kind = colon < 0 ? id : id.slice(0, colon);
    var key = colon < 0 ? "" : id.slice(colon + 1);
    return links.node + kind + "/" + pythonQuote(key || "-");
  }

  function nodeDerived(data, node) {
    var words = data.words || { kinds: {}, accounts: {} };
    var links = data.links || {};
    var derived = {};
    if (node.panel === undefined && !NO_PANEL[node.kind] && links.node) {
      derived.panel = nodePanelUrl(links, node.id);
    }
    if (node.title === undefined && words.kinds[node.kind] !== undefined) {
      var account = words.accounts[node.account || ""];
      derived.title = words.kinds[node.kind] + ": " + node.label + (account ? " · " + account : "");
    }
    if (node.kind === "aggregate" && node.members_url === undefined && links.folded) {
      var query = { id: node.id };
      if (node.members_by_account) {
        query.of = node.of || "";
        query.account = node.account || "";
      }
      derived.members_url = links.folded + "?" + pythonUrlencode(query);
    }
    return derived;
  }

  function edgeDerived(data, edge, labels) {
    var outcome = edge.outcome || "";
    var derived = {};
    if (edge.id === undefined) derived.id = edge.source + "|" + edge.kind + "|" + outcome + "|" + edge.target;
    if (edge.summary === undefined && data.words) {
      var summary = labels[edge.source] + " " + data.words.verbs[edge.kind + "|" + outcome] + " " + labels[edge.target];
      if (edge.kind === "escalate" && edge.methods && edge.methods.length) summary += " (" + edge.methods.join(", ") + ")";
      derived.summary = summary;
    }
    return derived;
  }

  function elementsOf(data) {
    var elements = [];
    var labels = {};
    data.nodes.forEach(function (node) {
      labels[node.id] = node.label;
    });
    var edges = data.edges.map(function (edge) {
      return Object.assign({}, edge, edgeDerived(data, edge, labels));
    });
    var highlighted = {};
    (data.highlight || []).forEach(function (id) {
      highlighted[id] = true;
    });
    var bundles = bundlesOf(data.bundles, edges, highlighted);
    bundledMembers = {};
    var hopNumbers = {};
    (data.paths || []).forEach(function (path) {
      path.hops.forEach(function (hop, index) {
        if (!(hop.edge in hopNumbers)) hopNumbers[hop.edge] = String(index + 1);
      });
    });
    // An account box is drawn as a plain node behind its principals, sized here from theirs:
    // compound nodes would cost Cytoscape a bounds update up the tree for every node.
    var boxes = {};
    data.nodes.forEach(function (node) {
      if (!node.parent || typeof node.x !== "number") return;
      var box = boxes[node.parent] || { x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity };
      box.x1 = Math.min(box.x1, node.x - (node.w || 200) / 2);
      box.x2 = Math.max(box.x2, node.x + (node.w || 200) / 2);
      box.y1 = Math.min(box.y1, node.y - (node.h || 32) / 2);
      box.y2 = Math.max(box.y2, node.y + (node.h || 32) / 2);
      boxes[node.parent] = box;
    });
    data.nodes.forEach(function (node) {
      if (node.kind === "box" && !boxes[node.id]) return;
      var classes = [node.kind];
      if (node.sub) classes.push("has-sub");
      if (node.outside) classes.push("outside");
      (node.flags || []).concat(node.classes || []).forEach(function (name) {
        classes.push(name);
      });
      // Boxes and headers never fade.
      var structural = node.kind === "box" || node.kind === "column";
      if (highlighted[node.id]) classes.push("hl");
      else if (!structural && data.highlight && data.highlight.length) classes.push("faded");
      var element = {
        group: "nodes",
        data: Object.assign({}, node, nodeDerived(data, node), {
          display: node.display || node.label,
          w: node.w || 200,
          h: node.h || 32,
          bg: (KIND_COLOURS[node.kind] || DEFAULT_COLOURS)[0],
          bc: (KIND_COLOURS[node.kind] || DEFAULT_COLOURS)[1],
          shape: SHAPES[node.kind] || "round-rectangle",
          box: node.parent || "",
        }),
        classes: classes.join(" "),
        selectable: !structural,
        grabbable: false,
      };
      delete element.data.parent;
      var box = boxes[node.id];
      if (box) {
        element.data.w = box.x2 - box.x1 + 2 * BOX_PADDING;
        element.data.h = box.y2 - box.y1 + 2 * BOX_PADDING;
        element.position = { x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 };
      } else {
        element.position = { x: node.x, y: node.y };
      }
      elements.push(element);
    });
    edges.forEach(function (edge) {
      var classes = [edge.kind];
      if (edge.outcome) classes.push(edge.outcome);
      if (edge.status) classes.push(edge.status);
      if (edge.count && edge.count > 1) classes.push("folded");
      if (edge.source === "anyone") classes.push("from-anyone");
      if (edge.sd) classes.push("routed");
      (edge.classes || []).forEach(function (name) {
        classes.push(name);
      });
      if (highlighted[edge.id]) classes.push("hl");
      else if (data.highlight && data.highlight.length) classes.push("faded");
      var extra = { hop: hopNumbers[edge.id] || "" };
      // A removed edge is not stored any more: it has no panel.
      if (data.links && data.links.edge && edge.change !== "removed") {
        var query = { source: edge.source, target: edge.target, kind: edge.kind };
        if (data.changes && data.changes.since) query.since = data.changes.since;
        extra.panel = data.links.edge + "?" + new URLSearchParams(query).toString();
      }
      var element = { group: "edges", data: Object.assign({}, edge, extra), classes: classes.join(" ") };
      var bundle = edge.bundle && bundles[edge.bundle];
      if (bundle) bundle.members.push(element);
      else elements.push(element);
    });
    Object.keys(bundles).forEach(function (id) {
      var bundle = bundles[id];
      var classes = ["bundle", bundle.data.kind, bundle.data.outcome];
      if (bundle.data.sd) classes.push("routed");
      if (data.highlight && data.highlight.length) classes.push("faded");
      var element = {
        group: "edges",
        data: Object.assign({}, bundle.data, {
          label: "× " + bundle.members.length,
          members: bundle.members.map(function (member) {
            return member.data.id;
          }),
        }),
        classes: classes.join(" "),
      };
      elements.push(element);
      bundledMembers[id] = bundle.members;
    });
    return elements;
  }

  function bundlesOf(drawnBundles, edges, highlighted) {
    // Parallel edges of a busy view (identities/graph/layout.py) are drawn as one edge until a
    // tap opens it: its members are kept aside, not added. A bundle holding an edge the view
    // highlights (a path, a change) is drawn open.
    var bundles = {};
    (drawnBundles || []).forEach(function (bundle) {
      bundles[bundle.id] = { data: bundle, members: [], open: false };
    });
    edges.forEach(function (edge) {
      var bundle = edge.bundle && bundles[edge.bundle];
      if (bundle && (highlighted[edge.id] || edge.change || (edge.classes && edge.classes.length))) {
        bundle.open = true;
      }
    });
    Object.keys(bundles).forEach(function (id) {
      if (bundles[id].open || openBundles[id]) delete bundles[id];
    });
    return bundles;
  }

  var COUNT_ZOOM = 0.85; // bundle counts (12 px) from about 10 rendered px

  function showCounts() {
    var on = cy.zoom() >= COUNT_ZOOM;
    var wrong = cy.edges(".bundle").filter(function (edge) {
      return edge.hasClass("counted") !== on;
    });
    if (wrong.nonempty()) {
      cy.batch(function () {
        wrong.toggleClass("counted", on);
      });
    }
  }

  function openBundle(edge) {
    // The bundle gives way to its members, drawn along the lanes the server spread them on.
    var members = bundledMembers[edge.id()];
    if (!members) return;
    openBundles[edge.id()] = true;
    delete bundledMembers[edge.id()];
    cy.batch(function () {
      edge.remove();
      cy.add(members);
    });
    hideTooltip();
  }

  function setNodeParam(id) {
    var url = new URL(window.location.href);
    if (id) url.searchParams.set("node", id);
    else url.searchParams.delete("node");
    window.history.replaceState(window.history.state, "", url.toString());
    var input = document.getElementById("state-node");
    if (input) input.value = id || "";
  }

  function loadPanel(url) {
    if (!url || !window.htmx) return;
    window.htmx.ajax("GET", url, { target: "#node-panel", swap: "innerHTML" });
  }

  function goTo(url) {
    // A folded node or an expansion changes the view: fetch the region and push its URL.
    if (!url || !window.htmx) return;
    window.htmx
      .ajax("GET", url, { target: "#graph-view", swap: "outerHTML" })
      .then(function () {
        window.history.pushState({}, "", url);
      });
  }

  function expandUrl(id) {
    var url = new URL(window.location.href);
    var present = url.searchParams.getAll("expand");
    if (present.indexOf(id) < 0) url.searchParams.append("expand", id);
    url.searchParams.set("node", id);
    return url.pathname + url.search;
  }

  function tooltip() {
    return document.getElementById("graph-tooltip");
  }

  function showTooltip(event, text) {
    var tip = tooltip();
    if (!tip || !text) return;
    tip.textContent = text;
    tip.hidden = false;
    var box = event.cy.container().getBoundingClientRect();
    var pos = event.renderedPosition || { x: 0, y: 0 };
    tip.style.left = Math.round(pos.x + 14) + "px";
    tip.style.top = Math.round(pos.y + 14) + "px";
    if (pos.x + 14 + tip.offsetWidth > box.width) {
      tip.style.left = Math.max(0, Math.round(pos.x - tip.offsetWidth - 10)) + "px";
    }
  }

  function hideTooltip() {
    var tip = tooltip();
    if (tip) tip.hidden = true;
  }

  function edgeTitle(edge) {
    if (edge.hasClass("bundle")) {
      var members = bundledMembers[edge.id()] || [];
      return members
        .map(function (member) {
          return member.data.summary;
        })
        .concat(["Click to show these " + members.length + " edges apart"])
        .join("\n");
    }
    var parts = [edge.data("summary") || ""];
    var conditions = edge.data("requirements") || edge.data("conditions");
    if (conditions && conditions.length) parts.push("Only when: " + conditions.join("; "));
    var methods = edge.data("methods");
    if (methods && methods.length) parts.push((edge.data("status") === "potential" ? "Potential, by: " : "By: ") + methods.join(", "));
    if (edge.data("count") > 1) parts.push(edge.data("count") + " edges folded");
    if (edge.data("change") === "added") parts.push("New " + ((currentChanges && currentChanges.label) || ""));
    return parts.filter(Boolean).join("\n");
  }

  function wire(instance) {
    // A tap waits DOUBLE_TAP_MS for a second tap on the same node: the two taps of a double tap
    // must not each load a panel, as those requests would race the expansion's swap of the
    // view. Cytoscape's own onetap/dbltap pair any two taps within its interval, even on
    // different elements (a tap on an edge, then a node), so the pairing is kept here.
    var pending = null;
    function singleTap(node) {
      if (node.removed()) return;
      if (node.data("members_url")) {
        // A folded node opens the list of its members, to pick one to add: drilling in
        // would often draw the same folded picture again.
        setNodeParam("");
        loadPanel(node.data("members_url"));
        return;
      }
      setNodeParam(node.id());
      loadPanel(node.data("panel"));
    }
    instance.on("tap", "node", function (event) {
      var node = event.target;
      if (pending && pending.node.same(node)) {
        clearTimeout(pending.timer);
        pending = null;
        if (node.data("panel")) goTo(expandUrl(node.id()));
        return;
      }
      if (pending) {
        clearTimeout(pending.timer);
        singleTap(pending.node);
      }
      pending = {
        node: node,
        timer: setTimeout(function () {
          pending = null;
          singleTap(node);
        }, DOUBLE_TAP_MS),
      };
    });
    instance.on("tap", "edge", function (event) {
      if (event.target.hasClass("bundle")) openBundle(event.target);
      else loadPanel(event.target.data("panel"));
    });
    instance.on("mouseover", "edge", function (event) {
      showTooltip(event, edgeTitle(event.target));
    });
    instance.on("mouseover", "node", function (event) {
      showTooltip(event, event.target.data("title") || "");
    });
    instance.on("mouseout", "node, edge", hideTooltip);
    instance.on("viewport", hideTooltip);
    instance.on("zoom", showCounts);
  }

  function markFirstDraw(container, started) {
    cy.one("render", function () {
      var now = performance.now();
      if (window.iamvizGraphTimings) window.iamvizGraphTimings.frame = Math.round(now - started);
      container.setAttribute("data-first-draw-ms", String(Math.round(now - started)));
      // Since the navigation started: the benchmark tells the server's part from the browser's.
      container.setAttribute("data-drawn-at-ms", String(Math.round(now)));
      container.setAttribute("data-ready", "true");
    });
  }

  function draw() {
    var island = document.getElementById("graph-data");
    var container = document.getElementById("graph-canvas");
    if (!island || !container || !window.cytoscape) return;
    var started = performance.now();
    var timings = { start: Math.round(started) };
    var data = JSON.parse(island.textContent);
    timings.parse = Math.round(performance.now() - started);
    var big = data.nodes.length > BIG || data.edges.length > 2 * BIG;
    var merging = cy && cy.container() === container && currentView === data.view;
    // An expansion keeps the bundles opened; a new view starts with all of them closed.
    if (!merging) openBundles = {};
    var elements = elementsOf(data);
    timings.elements = Math.round(performance.now() - started);
    currentChanges = data.changes || null;
    if (merging) {
      merge(data, elements);
    } else {
      if (cy) cy.destroy();
      container.removeAttribute("data-ready");
      // Created empty, then filled in one batch: the server placed every node, so no layout
      // runs (a preset layout would move each node again, one event each), and the opening
      // viewport comes from the data, not from measuring every drawn label.
      cy = window.cytoscape({
        container: container,
        elements: [],
        style: style(palette(container), big),
        layout: { name: "null" },
        minZoom: 0.02,
        maxZoom: 2.5,
        boxSelectionEnabled: false,
        autoungrabify: true,
        textureOnViewport: big,
        hideEdgesOnViewport: big,
        pixelRatio: big ? 1 : "auto",
      });
      timings.create = Math.round(performance.now() - started);
      cy.batch(function () {
        cy.add(elements);
      });
      timings.add = Math.round(performance.now() - started);
      cy.viewport(openingViewport(data, cy.width(), cy.height()));
      showCounts();
      timings.viewport = Math.round(performance.now() - started);
      window.iamvizGraphTimings = timings;
      currentView = data.view;
      wire(cy);
      window.iamvizGraph = cy;
      markFirstDraw(container, started);
    }
    var selected = new URL(window.location.href).searchParams.get("node");
    if (selected) {
      var node = cy.getElementById(selected);
      if (node.nonempty()) node.select();
    }
  }

  var LEGIBLE_ZOOM = 0.75; // 12 px labels drawn at 9 px
  var OPENING_ZOOM = 0.6; // the least a view opens at: 12 px labels drawn at 7.2 px
  var FIT_PADDING = 30;
  var BOX_PADDING = 18; // node.box padding; its title sits above it
  var BOX_TITLE = 26;

  function extent(nodes) {
    // The model box around nodes, as Cytoscape will draw them (account boxes included).
    var box = { x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity };
    var parented = false;
    nodes.forEach(function (node) {
      if (node.kind === "box" || typeof node.x !== "number") return;
      var w = (node.w || 200) / 2;
      var h = (node.h || 32) / 2;
      if (node.parent) parented = true;
      box.x1 = Math.min(box.x1, node.x - w);
      box.x2 = Math.max(box.x2, node.x + w);
      box.y1 = Math.min(box.y1, node.y - h);
      box.y2 = Math.max(box.y2, node.y + h);
    });
    if (parented) {
      box.x1 -= BOX_PADDING;
      box.x2 += BOX_PADDING;
      box.y1 -= BOX_PADDING + BOX_TITLE;
      box.y2 += BOX_PADDING;
    }
    return box;
  }

  function openingViewport(data, width, height) {
    // The whole graph when it fits at a legible zoom (a handful of nodes no larger than 1.3);
    // else legible, around the node selected or asked about, the paths found, the account
    // asked for or, failing those, from the top left corner where the columns start.
    var all = extent(data.nodes);
    if (!isFinite(all.x1)) return { zoom: 1, pan: { x: width / 2, y: height / 2 } };
    var fit = Math.min((width - 2 * FIT_PADDING) / Math.max(all.x2 - all.x1, 1), (height - 2 * FIT_PADDING) / Math.max(all.y2 - all.y1, 1));
    var zoom = Math.min(fit, 1.3);
    var area = all;
    if (fit < OPENING_ZOOM) {
      var byId = {};
      data.nodes.forEach(function (node) {
        byId[node.id] = node;
      });
      var query = new URL(window.location.href).searchParams;
      var account = query.get("account");
      var selected = query.get("node");
      var focus = data.stats && data.stats.focus;
      var wanted = [];
      if (selected && byId[selected]) {
        wanted = [byId[selected]];
        zoom = LEGIBLE_ZOOM;
      } else if (focus && byId[focus]) {
        wanted = [byId[focus]];
        zoom = LEGIBLE_ZOOM;
      } else if (data.highlight && data.highlight.length) {
        wanted = data.highlight.map(function (id) { return byId[id]; }).filter(Boolean);
        zoom = OPENING_ZOOM;
      } else if (account) {
        wanted = data.nodes.filter(function (node) { return node.parent === "box:4:" + account; });
        zoom = OPENING_ZOOM;
      } else {
        zoom = OPENING_ZOOM;
      }
      if (wanted.length) {
        area = extent(wanted);
        var wantedFit = Math.min((width - 2 * FIT_PADDING) / Math.max(area.x2 - area.x1, 1), (height - 2 * FIT_PADDING) / Math.max(area.y2 - area.y1, 1));
        zoom = Math.max(OPENING_ZOOM, Math.min(zoom, wantedFit));
        var cx = (area.x1 + area.x2) / 2;
        var cy0 = (area.y1 + area.y2) / 2;
        return { zoom: zoom, pan: { x: width / 2 - cx * zoom, y: height / 2 - cy0 * zoom } };
      }
      // Centred on an axis the whole graph fits along (the columns' width), else from its start.
      var fitsX = (all.x2 - all.x1) * zoom <= width - 2 * FIT_PADDING;
      var fitsY = (all.y2 - all.y1) * zoom <= height - 2 * FIT_PADDING;
      return {
        zoom: zoom,
        pan: {
          x: fitsX ? width / 2 - ((all.x1 + all.x2) / 2) * zoom : FIT_PADDING - all.x1 * zoom,
          y: fitsY ? height / 2 - ((all.y1 + all.y2) / 2) * zoom : FIT_PADDING - all.y1 * zoom,
        },
      };
    }
    var mx = (area.x1 + area.x2) / 2;
    var my = (area.y1 + area.y2) / 2;
    return { zoom: zoom, pan: { x: width / 2 - mx * zoom, y: height / 2 - my * zoom } };
  }

  var DOUBLE_TAP_MS = 300; // a second tap on the same node within this makes a double tap

  function capZoom() {
    // A handful of nodes fitted to the canvas would be drawn huge: keep them at a readable size.
    if (cy.zoom() > 1.3) {
      cy.zoom(1.3);
      cy.center();
    }
  }

  function merge(data, elements) {
    // Expansion: keep what is drawn, move it to the server's new positions, add the new nodes.
    var incoming = {};
    elements.forEach(function (element) {
      incoming[element.data.id] = element;
    });
    cy.batch(function () {
      cy.elements().forEach(function (element) {
        if (!incoming[element.id()]) element.remove();
      });
      elements.forEach(function (element) {
        var existing = cy.getElementById(element.data.id);
        if (existing.nonempty()) {
          existing.data(element.data);
          existing.classes(element.classes);
          if (element.position && existing.isNode()) existing.position(element.position);
        } else {
          cy.add(element);
        }
      });
    });
    cy.viewport(openingViewport(data, cy.width(), cy.height()));
    showCounts();
    var container = cy.container();
    container.setAttribute("data-ready", "true");
  }

  function download(name, blob) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () {
      URL.revokeObjectURL(link.href);
      link.remove();
    }, 0);
  }

  function onAction(event) {
    var button = event.target.closest("[data-graph-action]");
    if (!button || !cy) return;
    var action = button.getAttribute("data-graph-action");
    if (action === "fit") {
      cy.fit(undefined, 30);
      capZoom();
    }
    if (action === "zoom-in") cy.zoom({ level: cy.zoom() * 1.3, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    if (action === "zoom-out") cy.zoom({ level: cy.zoom() / 1.3, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    if (action === "png") {
      var p = palette(cy.container());
      var blob = cy.png({ output: "blob", full: true, scale: 2, bg: p.background, maxWidth: 8000, maxHeight: 8000 });
      download((button.getAttribute("data-filename") || "iamviz-graph") + ".png", blob);
    }
    if (action === "copy-link" && navigator.clipboard) {
      navigator.clipboard.writeText(window.location.href).then(function () {
        button.textContent = "Link copied";
      });
    }
  }

  function highlightOnly(ids) {
    if (!cy) return;
    var wanted = {};
    ids.forEach(function (id) {
      wanted[id] = true;
    });
    cy.batch(function () {
      cy.elements().forEach(function (element) {
        if (element.hasClass("box") || element.hasClass("column")) return;
        var on = !!wanted[element.id()];
        element.toggleClass("hl", on);
        element.toggleClass("faded", !on);
      });
    });
  }

  function restoreHighlight() {
    var island = document.getElementById("graph-data");
    if (!cy || !island) return;
    var data = JSON.parse(island.textContent);
    if (data.highlight && data.highlight.length) highlightOnly(data.highlight);
  }

  function onPathEnter(event) {
    var card = event.target.closest && event.target.closest("[data-highlight]");
    if (!card) return;
    highlightOnly(card.getAttribute("data-highlight").split(" "));
  }

  function onPathLeave(event) {
    var card = event.target.closest && event.target.closest("[data-highlight]");
    if (card && !card.contains(event.relatedTarget)) restoreHighlight();
  }

  document.addEventListener("click", onAction);
  document.addEventListener("mouseover", onPathEnter);
  document.addEventListener("focusin", onPathEnter);
  document.addEventListener("mouseout", onPathLeave);
  document.addEventListener("focusout", onPathLeave);
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail && event.detail.elt;
    // htmx also announces the initial page (the body); DOMContentLoaded draws that one.
    if (!elt || elt === document.body) return;
    if (elt.id === "graph-view" || (elt.querySelector && elt.querySelector("#graph-data"))) {
      // A suggestion was picked: the view changed, so the search boxes start empty again.
      document.querySelectorAll(".graph-search input[type=search]").forEach(function (input) {
        if (input !== document.activeElement) input.value = "";
      });
      draw();
    }
  });
  document.addEventListener("htmx:historyRestore", function () {
    if (cy) {
      cy.destroy();
      cy = null;
    }
    draw();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
