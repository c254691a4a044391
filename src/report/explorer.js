// tracetail report: interactive layer. Written for this report, no library, no network.
// Without JavaScript the page shows the static SVG pictures; with it, each "explorer" turns
// into a scatter of transactions over time: hover a point for its value and transaction,
// drag a box to zoom, buttons zoom into the tail, click a group to hide it. Tables sort on a
// click on their header.
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message));
    document.body.setAttribute("data-js-errors", errors.join("; "));
  });
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // 1234567 ns -> "1.23 ms": the same rounding as the tables.
  function human(ns) {
    var a = Math.abs(ns);
    if (a < 1e3) return ns.toFixed(0) + " ns";
    if (a < 1e6) return (ns / 1e3).toPrecision(3) + " µs";
    if (a < 1e9) return (ns / 1e6).toPrecision(3) + " ms";
    return (ns / 1e9).toPrecision(3) + " s";
  }

  function niceStep(span, want) {
    var raw = span / want, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return steps[i] * mag;
    return 10 * mag;
  }

  function linearTicks(lo, hi, want) {
    if (!(hi > lo)) return [lo];
    var step = niceStep(hi - lo, want), out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }

  // Log ticks: powers of ten, else 1-2-5, else 1..9, else linear (at least three labels).
  function logTicks(lo, hi) {
    var sets = [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
    for (var s = 0; s < sets.length; s++) {
      var out = [];
      for (var e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
        for (var m = 0; m < sets[s].length; m++) {
          var v = sets[s][m] * Math.pow(10, e);
          if (v >= lo * 0.999999 && v <= hi * 1.000001) out.push(v);
        }
      if (out.length >= 3) {
        while (out.length > 10) out = out.filter(function (_, i) { return i % 2 === 0; });
        return out;
      }
    }
    return linearTicks(lo, hi, 4);
  }

  function short(v) {
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e6 || a < 1e-3) return v.toExponential(1);
    return String(Number(v.toPrecision(3)));
  }

  function Explorer(root) {
    var data = JSON.parse(root.querySelector("script.xdata").textContent);
    var svg = root.querySelector("svg.xplot");
    var tip = root.querySelector(".xtip");
    var legend = root.querySelector(".xlegend");
    var W = 900, H = 420, L = 78, R = 16, T = 12, B = 48;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    var unit = data.unit, hidden = {}, view = null, drawn = [];
    var pts = data.points; // [t seconds since t0, value ns, group, from, to, what]
    var tMax = 0, vMin = Infinity, vMax = 0;
    pts.forEach(function (p) {
      tMax = Math.max(tMax, p[0]);
      if (p[1] > 0) vMin = Math.min(vMin, p[1]);
      vMax = Math.max(vMax, p[1]);
    });
    if (!isFinite(vMin)) vMin = 1;
    var full = { t0: 0, t1: Math.max(tMax, 1e-9), v0: vMin / 1.3, v1: vMax * 1.3 };

    function sx(t) { return L + (t - view.t0) / (view.t1 - view.t0) * (W - L - R); }
    function sy(v) {
      v = Math.max(v, view.v0);
      return T + (1 - (Math.log(v) - Math.log(view.v0)) / (Math.log(view.v1) - Math.log(view.v0))) * (H - T - B);
    }
    function tx(x) { return view.t0 + (x - L) / (W - L - R) * (view.t1 - view.t0); }
    function vy(y) {
      return Math.exp(Math.log(view.v0) + (1 - (y - T) / (H - T - B)) * (Math.log(view.v1) - Math.log(view.v0)));
    }

    function draw() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fff", stroke: "#999" }, svg);
      logTicks(view.v0, view.v1).forEach(function (v) {
        var y = sy(v);
        el("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#e4e4e4" }, svg);
        el("text", { x: L - 6, y: y + 4, "text-anchor": "end", "font-size": 12 }, svg).textContent = short(v / unit.ns);
      });
      linearTicks(view.t0, view.t1, 8).forEach(function (t) {
        var x = sx(t);
        el("line", { x1: x, x2: x, y1: T, y2: H - B, stroke: "#eeeeee" }, svg);
        el("text", { x: x, y: H - B + 16, "text-anchor": "middle", "font-size": 12 }, svg).textContent = short(t);
      });
      el("text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle", "font-size": 13 }, svg).textContent =
        "seconds since " + data.t0;
      el("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 13,
        transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, svg).textContent =
        data.metric + " (" + unit.symbol + ", log scale)";
      var layer = el("g", {}, svg);
      drawn = [];
      pts.forEach(function (p, i) {
        if (hidden[p[2]] || p[0] < view.t0 || p[0] > view.t1 || p[1] < view.v0 || p[1] > view.v1) return;
        var x = sx(p[0]), y = sy(p[1]);
        el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 2.6, fill: PALETTE[p[2] % PALETTE.length],
          "fill-opacity": 0.6, "data-i": i }, layer);
        drawn.push([x, y, i]);
      });
      root.querySelector(".xcount").textContent = drawn.length + " of " + pts.length + " points in view";
    }

    function nearest(x, y) {
      var best = null, bd = 100; // within 10 px
      for (var k = 0; k < drawn.length; k++) {
        var dx = drawn[k][0] - x, dy = drawn[k][1] - y, d = dx * dx + dy * dy;
        if (d < bd) { bd = d; best = drawn[k]; }
      }
      return best;
    }

    function local(ev) {
      var r = svg.getBoundingClientRect();
      return [(ev.clientX - r.left) * W / r.width, (ev.clientY - r.top) * H / r.height];
    }

    function show(ev) {
      var at = local(ev), hit = nearest(at[0], at[1]);
      if (!hit) { tip.hidden = true; return; }
      var p = pts[hit[2]];
      var when = new Date(data.t0_ms + p[0] * 1000).toISOString();
      tip.textContent = "";
      [human(p[1]) + "  (" + data.metric + ")", when + "  (+" + p[0].toFixed(6) + " s)",
        p[3] + " → " + p[4], p[5], "group: " + data.groups[p[2]]].forEach(function (line, i) {
        var d = document.createElement("div");
        if (i === 0) d.className = "xvalue";
        d.textContent = line;
        tip.appendChild(d);
      });
      var box = root.getBoundingClientRect(), r = svg.getBoundingClientRect();
      tip.style.left = (hit[0] * r.width / W + r.left - box.left + 12) + "px";
      tip.style.top = (hit[1] * r.height / H + r.top - box.top + 12) + "px";
      tip.hidden = false;
    }

    var drag = null, band = null;
    svg.addEventListener("mousemove", function (ev) {
      if (drag) {
        var at = local(ev);
        band.setAttribute("x", Math.min(drag[0], at[0]));
        band.setAttribute("y", Math.min(drag[1], at[1]));
        band.setAttribute("width", Math.abs(at[0] - drag[0]));
        band.setAttribute("height", Math.abs(at[1] - drag[1]));
        return;
      }
      show(ev);
    });
    svg.addEventListener("mouseleave", function () { tip.hidden = true; });
    svg.addEventListener("mousedown", function (ev) {
      drag = local(ev);
      band = el("rect", { x: drag[0], y: drag[1], width: 0, height: 0, fill: "#2b5fb4", "fill-opacity": 0.12,
        stroke: "#2b5fb4" }, svg);
      ev.preventDefault();
    });
    window.addEventListener("mouseup", function (ev) {
      if (!drag) return;
      var at = local(ev), a = drag;
      drag = null;
      if (Math.abs(at[0] - a[0]) > 5 && Math.abs(at[1] - a[1]) > 5) {
        view = { t0: tx(Math.min(a[0], at[0])), t1: tx(Math.max(a[0], at[0])),
          v0: vy(Math.max(a[1], at[1])), v1: vy(Math.min(a[1], at[1])) };
      }
      draw();
    });
    svg.addEventListener("dblclick", function () { view = Object.assign({}, full); draw(); });
    root.querySelectorAll("button[data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () {
        var from = data.zoom[b.getAttribute("data-zoom")];
        view = Object.assign({}, full);
        if (from) view.v0 = from / 1.05;
        draw();
      });
    });
    data.groups.forEach(function (g, i) {
      var b = document.createElement("button");
      b.className = "xgroup";
      b.innerHTML = "<span></span>";
      b.firstChild.style.background = PALETTE[i % PALETTE.length];
      b.appendChild(document.createTextNode(g));
      b.addEventListener("click", function () {
        hidden[i] = !hidden[i];
        b.classList.toggle("off", !!hidden[i]);
        draw();
      });
      legend.appendChild(b);
    });
    view = Object.assign({}, full);
    root.hidden = false;
    draw();

    // For the browser test: hover the slowest point and record what the tooltip says, then
    // zoom into the tail with the p99 button, then hide the slowest point's group, and count
    // the points left in view after each step.
    this.selfTest = function () {
      var slowest = null;
      drawn.forEach(function (d) { if (!slowest || pts[d[2]][1] > pts[slowest[2]][1]) slowest = d; });
      if (!slowest) return { hover: "no points" };
      var r = svg.getBoundingClientRect();
      show({ clientX: r.left + slowest[0] * r.width / W, clientY: r.top + slowest[1] * r.height / H });
      var result = { hover: tip.hidden ? "no tooltip" : tip.textContent, all: drawn.length };
      var p99 = root.querySelector("button[data-zoom=p99]");
      if (p99) {
        p99.click();
        result.p99 = drawn.length;
      }
      // Hide the group of the slowest point: the tail view must lose it.
      var slowestGroup = pts[slowest[2]][2];
      legend.querySelectorAll("button.xgroup")[slowestGroup].click();
      result.hidden_group = data.groups[slowestGroup];
      result.after_hiding = drawn.length;
      return result;
    };
  }

  // Tables: click a header to sort by it (again to reverse). Durations sort by value.
  var UNITS = { ns: 1, "µs": 1e3, us: 1e3, ms: 1e6, s: 1e9, min: 6e10, h: 3.6e12,
    B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1048576, GiB: 1073741824 };
  function sortKey(text) {
    var m = /^\s*(-?[\d,]*\.?\d+(?:e[-+]?\d+)?)\s*([a-zµA-Z]*)\s*$/.exec(text);
    if (!m) return null;
    var v = parseFloat(m[1].replace(/,/g, ""));
    return m[2] && UNITS[m[2]] ? v * UNITS[m[2]] : (m[2] ? null : v);
  }
  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      th.title = "click to sort";
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var dir = th.getAttribute("data-sort") === "asc" ? -1 : 1;
        heads.forEach(function (h) { h.removeAttribute("data-sort"); });
        th.setAttribute("data-sort", dir === 1 ? "asc" : "desc");
        rows.sort(function (a, b) {
          var x = a.cells[col] ? a.cells[col].textContent : "", y = b.cells[col] ? b.cells[col].textContent : "";
          var kx = sortKey(x), ky = sortKey(y);
          if (kx !== null && ky !== null) return (kx - ky) * dir;
          if (kx !== null) return -1;
          if (ky !== null) return 1;
          return x.localeCompare(y) * dir;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function start() {
    document.querySelectorAll("table.sortable").forEach(sortable);
    var explorers = [];
    document.querySelectorAll(".explorer").forEach(function (root) {
      try {
        explorers.push(new Explorer(root));
      } catch (e) {
        errors.push(String(e));
        document.body.setAttribute("data-js-errors", errors.join("; "));
      }
    });
    document.body.setAttribute("data-js", "ready");
    if (location.hash === "#selftest" && explorers.length) {
      var result = explorers[0].selfTest();
      for (var k in result) document.body.setAttribute("data-selftest-" + k.replace(/_/g, "-"), result[k]);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
