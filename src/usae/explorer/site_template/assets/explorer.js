/* USAE concept explorer: index table (sort, filter, pages), a lazily loaded panel per concept and a view
 * per shown image. Data: window.USAE_META and window.USAE_INDEX (data/meta.js, data/index.js); concept
 * panels come from data/chunks/cNNNNN.js, which call usaeChunk(id, records) when inserted as <script>
 * (file:// allows it), image views from data/images/iNNNNN.js, which call usaeImages(id, records). */
"use strict";
(function () {
  var META = window.USAE_META;
  var INDEX = window.USAE_INDEX;
  var VALUES = INDEX.values;
  var COUNT = VALUES.concept.length;
  var PAGE = 100;
  var IMAGE_PAGE = 60;
  var TOKENS = META.grid[0] * META.grid[1];
  var COLORMAP = [[0, 0, 4], [120, 28, 109], [237, 105, 37], [252, 255, 164]];
  var state = { sort: "energy_total", ascending: false, kind: "", label: "", ranges: {}, page: 0, imagePage: 0,
                group: INDEX.group };
  var rowOf = {};
  var shownAt = {};
  var view = [];
  var files = {};
  var resolvers = {};
  VALUES.concept.forEach(function (k, i) { rowOf[k] = i; });
  META.shown_images.forEach(function (index, j) { shownAt[index] = j; });

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function pad(number, width) {
    var text = String(number);
    while (text.length < width) text = "0" + text;
    return text;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "\u2013";
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1000 || Math.abs(value) < 0.001 ? value.toExponential(2) : value.toPrecision(3);
  }

  function kindName(i) { return INDEX.kinds[VALUES.kind[i]]; }

  /* A model's display name (config model_zoo.<name>.display_name, else the built-in one), wherever a text names it. */
  function shown(name) { return (META.display || {})[name] || name; }

  function kindText(kind) { return kind.indexOf("only ") === 0 ? "only " + shown(kind.slice(5)) : kind; }

  function labelsOf(i) { return VALUES.labels[i].map(function (id) { return META.labels[id]; }); }
  // Each label in its own element: labels may hold commas, so no separator could tell them apart.
  function labelSpans(i) { return labelsOf(i).map(function (label) { return el("span", { className: "label", text: label }); }); }
  // A title that may wrap after an underscore or a hyphen of a long model name, never inside a word.
  function breakable(title) { return title.replace(/([_-])/g, "$1\u200b"); }

  function thumbSrc(index) { return "thumbs/" + pad(index, 6) + ".jpg"; }

  /* ---------- overview: R2 matrix, summary, figures ---------- */

  function renderOverview() {
    document.getElementById("subtitle").textContent = (META.dataset ? META.dataset + ": " : "") +
      COUNT + " alive concepts of " + META.concepts + " (" + META.dead + " dead), models " + META.models.map(shown).join(", ") +
      (META.images ? ", " + META.images + " evaluation images" : "");
    var head = el("tr", {}, [el("th", { text: "R\u00b2 enc \\ dec" })].concat(
      META.models.map(function (name) { return el("th", { text: shown(name) }); })));
    var rows = META.r2.map(function (row, i) {
      return el("tr", {}, [el("th", { text: shown(META.models[i]) })].concat(row.map(function (value) {
        var cell = el("td", { text: fmt(value) });
        var level = Math.max(0, Math.min(1, value || 0));
        cell.style.background = "rgba(21, 101, 192, " + (0.15 + 0.6 * level).toFixed(2) + ")";
        return cell;
      })));
    });
    document.getElementById("r2").appendChild(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
    var summary = document.getElementById("summary");
    Object.keys(META.summary).forEach(function (key) {
      summary.appendChild(el("dt", { text: key }));
      summary.appendChild(el("dd", { text: fmt(META.summary[key]) }));
    });
    var figures = document.getElementById("figures");
    META.figures.forEach(function (src) {
      figures.appendChild(el("a", { href: src, target: "_blank" }, [el("img", { src: src, alt: src, title: src })]));
    });
  }

  /* ---------- index table ---------- */

  function sortButton(key, title) {
    var button = el("button", { type: "button", text: title, "data-sort": key });
    button.addEventListener("click", function () {
      state.ascending = state.sort === key ? !state.ascending : key === "concept";
      state.sort = key;
      update();
    });
    return button;
  }

  function rangeInput(key) {
    var input = el("input", { "data-filter": key, placeholder: "\u2265 min", title: "12 (at least), <12, 3..12" });
    input.addEventListener("input", function () { state.ranges[key] = parseRange(input.value); update(); });
    return input;
  }

  function parseRange(text) {
    var number = "(-?\\d*\\.?\\d+(?:e-?\\d+)?)";
    var match;
    text = text.trim();
    if (!text) return null;
    if ((match = new RegExp("^" + number + "\\s*\\.\\.\\s*" + number + "$").exec(text))) return [+match[1], +match[2]];
    if ((match = new RegExp("^<=?\\s*" + number + "$").exec(text))) return [-Infinity, +match[1]];
    if ((match = new RegExp("^(?:>=?)?\\s*" + number + "$").exec(text))) return [+match[1], Infinity];
    return null;
  }

  function renderHead() {
    var columns = [{ key: "concept", title: "concept" }].concat(INDEX.columns);
    var titles = columns.map(function (column) {
      return el("th", { "data-key": column.key, className: groupClass(column) },
                [sortButton(column.key, breakable(column.title))]);
    });
    titles.splice(1, 0, el("th", { className: "text", text: "kind" }));
    titles.push(el("th", { className: "text", text: "top-image labels" }));
    var filters = INDEX.columns.map(function (column) {
      return el("th", { className: groupClass(column) }, [rangeInput(column.key)]);
    });
    filters.unshift(el("th"), el("th"));
    filters.push(el("th"));
    if (META.thumbnails) {
      titles.unshift(el("th", { className: "text", text: "top image" }));
      filters.unshift(el("th"));
    }
    var thead = document.querySelector("#table thead");
    thead.appendChild(el("tr", { className: "titles" }, titles));
    thead.appendChild(el("tr", { className: "filters" }, filters));
  }

  /* The per-model statistic a column belongs to, as a class ("" for the others); showGroup hides the other ones. */
  function groupClass(column) { return column.group ? "group-" + column.group : ""; }

  /* Show one per-model statistic's columns (M of them), or all of them (group ""): many models would not fit. */
  function showGroup(group) {
    state.group = group;
    document.getElementById("group-style").textContent = INDEX.groups.filter(function (g) {
      return group && g.key !== group;
    }).map(function (g) { return "#table .group-" + g.key + " { display: none; }"; }).join("\n");
  }

  function renderControls() {
    var perModel = document.getElementById("per-model");
    perModel.appendChild(el("option", { value: "", text: "all statistics" }));
    INDEX.groups.forEach(function (g) { perModel.appendChild(el("option", { value: g.key, text: g.title })); });
    perModel.value = state.group;
    perModel.addEventListener("change", function () { showGroup(perModel.value); });
    document.head.appendChild(el("style", { id: "group-style" }));
    showGroup(state.group);
    var kind = document.getElementById("kind");
    kind.appendChild(el("option", { value: "", text: "all" }));
    kind.appendChild(el("option", { value: "specific", text: "model-specific (any model)" }));
    INDEX.kinds.forEach(function (name, i) { kind.appendChild(el("option", { value: String(i), text: kindText(name) })); });
    kind.title = META.kind_rule;
    document.getElementById("kind-rule").textContent = META.kind_rule;
    kind.addEventListener("change", function () { state.kind = kind.value; update(); });
    var label = document.getElementById("label");
    var list = document.getElementById("label-list");
    META.labels.forEach(function (name) { list.appendChild(el("option", { value: name })); });
    label.addEventListener("input", function () { state.label = label.value.trim().toLowerCase(); update(); });
    document.getElementById("reset").addEventListener("click", resetFilters);
    jumpInput("goto", function (k) {
      if (rowOf[k] !== undefined) reveal(k);
      location.hash = "concept=" + k;
    });
  }

  function resetFilters() {
    state.kind = state.label = "";
    state.ranges = {};
    document.getElementById("kind").value = document.getElementById("label").value = "";
    document.querySelectorAll("[data-filter]").forEach(function (input) { input.value = ""; });
    update();
  }

  /* An id input that calls go(id) on Enter. */
  function jumpInput(id, go) {
    var input = document.getElementById(id);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && /^\s*\d+\s*$/.test(input.value)) go(+input.value);
    });
  }

  /* Show the page of the table holding concept k (clearing the filters if they hide it). */
  function reveal(k) {
    var at = view.indexOf(rowOf[k]);
    if (at < 0) {
      resetFilters();
      at = view.indexOf(rowOf[k]);
    }
    state.page = Math.floor(at / PAGE);
    renderBody();
    var row = document.querySelector('#table tbody tr[data-concept="' + k + '"]');
    if (row) row.scrollIntoView({ block: "center" });
  }

  function matchingLabels() {
    var wanted = {};
    META.labels.forEach(function (name, id) { if (name.toLowerCase().indexOf(state.label) >= 0) wanted[id] = true; });
    return wanted;
  }

  function kindMatches() {
    if (state.kind === "") return null;
    return INDEX.kinds.map(function (name, i) {
      return state.kind === "specific" ? name.indexOf("only ") === 0 : String(i) === state.kind;
    });
  }

  function filtered() {
    var kinds = kindMatches();
    var wanted = state.label ? matchingLabels() : null;
    var ranges = Object.keys(state.ranges).filter(function (key) { return state.ranges[key]; });
    var keep = [];
    for (var i = 0; i < COUNT; i++) {
      if (kinds && !kinds[VALUES.kind[i]]) continue;
      if (wanted && !VALUES.labels[i].some(function (id) { return wanted[id]; })) continue;
      var inside = ranges.every(function (key) {
        var value = VALUES[key][i];
        return value !== null && value >= state.ranges[key][0] && value <= state.ranges[key][1];
      });
      if (inside) keep.push(i);
    }
    return keep;
  }

  function sortView(rows) {
    var values = VALUES[state.sort];
    var sign = state.ascending ? 1 : -1;
    rows.sort(function (a, b) {
      var x = values[a], y = values[b];
      if (x === y) return VALUES.concept[a] - VALUES.concept[b];
      if (x === null) return 1;
      if (y === null) return -1;
      return sign * (x - y);
    });
    return rows;
  }

  function update() {
    view = sortView(filtered());
    state.page = 0;
    document.querySelectorAll("#table thead th[data-key]").forEach(function (th) {
      th.classList.toggle("sorted", th.getAttribute("data-key") === state.sort);
      th.classList.toggle("ascending", state.ascending);
    });
    document.getElementById("count").textContent = view.length + " of " + COUNT + " alive concepts";
    renderBody();
  }

  function tableRow(i) {
    var k = VALUES.concept[i];
    var cells = [el("td", {}, [el("a", { href: "#concept=" + k, text: String(k) })]),
                 el("td", { className: kindName(i) === "universal" ? "text kind universal" : "text kind",
                            text: breakable(kindText(kindName(i))) })];
    if (META.thumbnails) {
      var top = VALUES.thumb[i];
      cells.unshift(el("td", { className: "thumb" }, top < 0 ? [] : [
        el("img", { src: thumbSrc(top), alt: "image " + top, loading: "lazy", width: "36", height: "36" })]));
    }
    INDEX.columns.forEach(function (column) {
      cells.push(el("td", { className: ("col-" + column.key + " " + groupClass(column)).trim(),
                            text: fmt(VALUES[column.key][i]) }));
    });
    cells.push(el("td", { className: "text labels" }, labelSpans(i)));
    var row = el("tr", { "data-concept": String(k), "data-kind": kindName(i) }, cells);
    row.addEventListener("click", function () { location.hash = "concept=" + k; });
    return row;
  }

  function renderBody() {
    var pages = Math.max(1, Math.ceil(view.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var body = document.querySelector("#table tbody");
    var rows = document.createDocumentFragment();
    view.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (i) { rows.appendChild(tableRow(i)); });
    body.textContent = "";
    body.appendChild(rows);
    var pager = document.getElementById("pager");
    pager.textContent = "";
    [["\u2190 previous", -1], ["next \u2192", 1]].forEach(function (item) {
      var button = el("button", { type: "button", text: item[0] });
      var target = state.page + item[1];
      button.disabled = target < 0 || target >= pages;
      button.addEventListener("click", function () { state.page = target; renderBody(); });
      pager.appendChild(button);
    });
    pager.appendChild(el("span", { text: "page " + (state.page + 1) + " of " + pages }));
    markSelected();
  }

  /* ---------- concept panel ---------- */

  /* Data files: "chunks/c00003" (concepts, calls usaeChunk(3, ...)) or "images/i00003" (usaeImages(3, ...)). */
  function resolver(prefix) {
    return function (id, records) {
      var file = prefix + pad(id, 5);
      if (resolvers[file]) resolvers[file](records);
      delete resolvers[file];
    };
  }
  window.usaeChunk = resolver("chunks/c");
  window.usaeImages = resolver("images/i");

  function loadData(file) {
    if (!files[file]) {
      files[file] = new Promise(function (resolve, reject) {
        resolvers[file] = resolve;
        var script = el("script", { src: "data/" + file + ".js" });
        script.onerror = function () {
          delete files[file];
          reject(new Error("cannot load " + script.src));
        };
        document.head.appendChild(script);
      });
    }
    return files[file];
  }

  function colour(q) {
    var t = q / 255 * (COLORMAP.length - 1);
    var i = Math.min(Math.floor(t), COLORMAP.length - 2);
    var f = t - i;
    return COLORMAP[i].map(function (c, j) { return Math.round(c + f * (COLORMAP[i + 1][j] - c)); });
  }

  /* One model's heatmaps of a concept as a flat Uint8Array (images x tokens): {"dense"} or sparse {"at", "values"}. */
  function heatBytes(entry, length) {
    var out = new Uint8Array(length);
    var j;
    if (entry.dense !== undefined) {
      var dense = atob(entry.dense);
      for (j = 0; j < dense.length; j++) out[j] = dense.charCodeAt(j);
    } else {
      var at = atob(entry.at), values = atob(entry.values);
      for (j = 0; j < values.length; j++) out[at.charCodeAt(2 * j) | (at.charCodeAt(2 * j + 1) << 8)] = values.charCodeAt(j);
    }
    return out;
  }

  function heatmapURL(bytes, offset) {
    var height = META.grid[0], width = META.grid[1];
    var canvas = el("canvas", { width: String(width), height: String(height) });
    var context = canvas.getContext("2d");
    var image = context.createImageData(width, height);
    for (var t = 0; t < width * height; t++) {
      var q = bytes[offset + t];
      var rgb = colour(q);
      image.data.set([rgb[0], rgb[1], rgb[2], Math.min(255, Math.round(q * 1.5))], 4 * t);
    }
    context.putImageData(image, 0, 0);
    return canvas.toDataURL("image/png");
  }

  function peak(bytes, offset) {
    var best = 0;
    for (var t = 0; t < TOKENS; t++) best = Math.max(best, bytes[offset + t]);
    return best;
  }

  function imageName(index, file) { return "image " + index + (file ? " (" + file + ")" : ""); }

  /* Image `index` under a heatmap (tokens `offset`.. of `bytes`); a click opens `hash`. */
  function tile(index, bytes, offset, caption, title, own, hash) {
    var thumb = META.thumbnails ? [el("img", { className: "thumb", src: thumbSrc(index), alt: "image " + index })] : [];
    var figure = el("figure", { className: "tile" + (own ? " own" : ""), title: title }, thumb.concat([
      el("img", { className: "heat", src: heatmapURL(bytes, offset), alt: "heatmap" }), el("figcaption", { text: caption })]));
    figure.addEventListener("click", function () { location.hash = hash; });
    return figure;
  }

  function tileRow(name, heading, tiles) {
    var row = el("div", { className: "model-row", "data-model": name }, [el("div", { className: "model-name", text: breakable(heading) })].concat(tiles));
    row.style.gridTemplateColumns = "110px repeat(" + Math.max(tiles.length, 1) + ", minmax(0, " + META.thumbnail_px + "px))";
    return row;
  }

  function modelRow(record, name) {
    var bytes = heatBytes(record.heat[name], record.images.length * TOKENS);
    var scale = record.scale[name] || 0;
    var tiles = record.images.map(function (index, j) {
      var own = record.top[name].indexOf(j) >= 0;
      var caption = imageName(index, record.files[j]) + " \u00b7 " + (record.labels[j] ? record.labels[j] + " \u00b7 " : "") +
        "max " + fmt(peak(bytes, j * TOKENS) / 255 * scale);
      var title = "image " + index + (own ? " (" + shown(name) + " top image)" : "") + "; click: the concepts on this image";
      return tile(index, bytes, j * TOKENS, caption, title, own, "image=" + index);
    });
    return tileRow(name, shown(name) + " (scale " + fmt(scale) + ")", tiles);
  }

  function statsTable(i) {
    var head = el("tr", {}, [el("th", { text: "" })].concat(META.models.map(function (name) { return el("th", { text: shown(name) }); })));
    var rows = [["fires", "fires_"], ["co-fire proportion", "cofire_proportion_"], ["energy", "energy_"]].map(function (item) {
      return el("tr", {}, [el("th", { text: item[0] })].concat(META.models.map(function (name) {
        return el("td", { text: fmt(VALUES[item[1] + name][i]) });
      })));
    });
    return el("table", { className: "stats" }, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }

  function actmaxSection(record) {
    if (!record.actmax.length) return el("p", { className: "stats", text: "Not optimised: no activation-maximisation images for this concept." });
    return el("div", { className: "actmax" }, record.actmax.map(function (item) {
      var activations = Object.keys(item.activations).map(function (name) { return shown(name) + " " + fmt(item.activations[name]); });
      return el("figure", {}, [el("img", { src: item.src, alt: "optimised for " + shown(item.model) }),
                               el("figcaption", { text: "optimised for " + shown(item.model) + "; code: " + activations.join(", ") })]);
    }));
  }

  function neighbourLinks(record) {
    return el("p", { className: "neighbours" }, [el("span", { text: "Nearest concepts (" + META.neighbour_method + "; random atoms' nearest: " +
      fmt(META.neighbour_chance) + ", so a cosine near that means little): " })].concat(
      record.neighbours.map(function (item) {
        var kind = rowOf[item[0]] === undefined ? "" : ", " + kindText(kindName(rowOf[item[0]]));
        return el("a", { href: "#concept=" + item[0], text: item[0] + " (" + fmt(item[1]) + kind + ")" });
      })));
  }

  /* One twin: its id and score (beside the random baseline's, when given), then its own top images
     (`[index, code, file]`, from the baseline) when known. */
  function twinCell(concept, score, images, chance) {
    var chanceText = chance === undefined ? "" : "; random atoms' matched mean " + fmt(chance);
    var cell = el("td", {}, [el("div", { text: "concept " + concept + " (" + fmt(score) + chanceText + ")" })]);
    if (images === undefined || !META.thumbnails) return cell;
    if (!images.length) cell.appendChild(el("div", { className: "stats", text: "fires on no val image" }));
    else cell.appendChild(el("div", { className: "twin-images" }, images.map(function (item) {
      return el("figure", { title: imageName(item[0], item[2]) + "; the twin's max code " + fmt(item[1]) }, [
        el("img", { src: thumbSrc(item[0]), alt: "image " + item[0], loading: "lazy" }),
        el("figcaption", { text: imageName(item[0], item[2]) + " \u00b7 max " + fmt(item[1]) })]);
    })));
    return cell;
  }

  function twinsSection(record) {
    if (!META.baseline) return el("p", { className: "stats", text: "Baseline not run: no independent-SAE twins (train.independent: false)." });
    var head = el("tr", {}, ["model", "twin by atoms (cosine)", "twin by activations (correlation)"].map(function (title) {
      return el("th", { text: title });
    }));
    var rows = META.models.map(function (name) {
      var twin = record.twins[name];
      return el("tr", { "data-model": name }, [el("th", { text: shown(name) }),
        twinCell(twin.atom, twin.cosine, twin.atom_images, META.twin_chance[name]),
        twinCell(twin.activation, twin.correlation, twin.activation_images)]);
    });
    return el("div", {}, [
      el("p", { className: "stats", text: "Concepts of the independent SAE trained on each model alone, matched one to one to the " +
        "USAE's (Hungarian matching over all concepts, by decoder-atom cosine and by correlation of codes on the evaluation " +
        "tokens); the baseline table's random rows say what a matched cosine is worth by chance. Under each twin: its own " +
        "top images on the evaluation split, by the independent SAE's largest code on the image." }),
      el("table", { className: "stats twins" }, [el("thead", {}, [head]), el("tbody", {}, rows)])]);
  }

  /* Each model's labels among its top images (label coherence) and, with replicates, its seed stability. */
  function evidenceSection(record) {
    var coherence = META.coherence;
    var notes = [coherence.run ? "Labels of each model's top " + coherence.top_images + " images: the top label's share, its " +
      "enrichment over the label's base rate and a permutation p-value (" + coherence.permutations + " draws; the null's mean " +
      "share " + fmt(coherence.null_label_share_mean) + ", 95% " + fmt(coherence.null_label_share_95) + "); coherent: " +
      "Benjamini-Hochberg q ≤ " + coherence.fdr + "." : "Label coherence not run: " + coherence.reason + "."];
    notes.push(META.stability ? "Stability: the matched atom cosine and code correlation of this concept in the other " +
      "replicate runs (mean over them)." : "Seed stability: not run (replicates: 1).");
    if (!META.evidence) return el("p", { className: "stats", text: notes.join(" ") });
    var titles = ["model", "top label", "share", "enrichment", "p", "coherent", "labels of its top images"];
    if (META.stability) titles.push("stability (atoms)", "stability (codes)");
    var rows = META.models.map(function (name) {
      var item = record.evidence[name] || {};
      var tested = item.counts !== undefined;
      var cells = [el("th", { text: shown(name) })];
      if (tested) {
        cells.push(el("td", { className: "text" }, [el("span", { className: "label", text: item.label })]),
                   el("td", { text: fmt(item.share) }), el("td", { text: fmt(item.enrichment) }), el("td", { text: fmt(item.p) }),
                   el("td", { text: item.coherent ? "yes" : "no" }),
                   el("td", { className: "text labels" }, item.counts.map(function (pair) {
                     return el("span", { className: "label", text: pair[0] + " ×" + pair[1] });
                   })));
      } else {
        cells.push(el("td", { className: "text", colspan: "6", text: coherence.run ?
          "not tested: fires on fewer than " + coherence.top_images + " images" : "\u2013" }));
      }
      if (META.stability) cells.push(el("td", { text: fmt(item.atom_stability) }), el("td", { text: fmt(item.code_stability) }));
      return el("tr", { "data-model": name }, cells);
    });
    var head = el("tr", {}, titles.map(function (title) { return el("th", { text: title }); }));
    return el("div", { className: "evidence" }, [el("p", { className: "stats", text: notes.join(" ") }),
      el("table", { className: "stats" }, [el("thead", {}, [head]), el("tbody", {}, rows)])]);
  }

  function openPanel() {
    var panel = document.getElementById("panel");
    var close = el("button", { type: "button", className: "close", text: "close \u2715" });
    close.addEventListener("click", function () { location.hash = ""; });
    panel.textContent = "";
    panel.appendChild(close);
    panel.scrollTop = 0;
    return panel;
  }

  function renderPanel(k, record) {
    var i = rowOf[k];
    var panel = openPanel();
    [el("h2", { text: "Concept " + k + " \u2014 " + kindText(kindName(i)) }),
     el("p", { className: "stats", text: "energy " + fmt(VALUES.energy_total[i]) + " \u00b7 firing entropy " + fmt(VALUES.entropy[i]) +
               " \u00b7 co-fires " + fmt(VALUES.cofires[i]) + (labelsOf(i).length ? " \u00b7 labels: " : "") },
       labelSpans(i)),
     statsTable(i),
     el("h3", { text: "Labels and stability" }), evidenceSection(record),
     el("h3", { text: "Top images, every model's heatmap" }),
     el("p", { className: "stats", text: "Columns: the union of every model's top images (outlined: that model's own top images). " +
               "Heatmap: the concept's code over the model's token grid, 255 = the row's scale." })]
      .concat(META.models.map(function (name) { return modelRow(record, name); }))
      .concat([el("h3", { text: "Activation maximisation" }), actmaxSection(record), neighbourLinks(record),
               el("h3", { text: "Independent-SAE twin (baseline)" }), twinsSection(record)])
      .forEach(function (node) { panel.appendChild(node); });
  }

  /* ---------- image view ---------- */

  function renderImage(index, record) {
    var panel = openPanel();
    [el("h2", { text: "Image " + index + (record.file ? " (" + record.file + ")" : "") + (record.label ? " \u2014 " + record.label : "") }),
     el("p", { className: "stats", text: "The concepts with the largest codes on this image in each model, largest first, " +
               "each over the image's tokens (255 = that concept's largest code here); click one to open it." })]
      .concat(META.models.map(function (name) {
        var concepts = record.concepts[name];
        var bytes = heatBytes(record.heat[name], concepts.length * TOKENS);
        var tiles = concepts.map(function (k, j) {
          var kind = rowOf[k] === undefined ? "" : " \u00b7 " + kindText(kindName(rowOf[k]));
          return tile(index, bytes, j * TOKENS, "concept " + k + kind + " \u00b7 max " + fmt(record.scale[name][j]),
                      "concept " + k + "; click: its panel", false, "concept=" + k);
        });
        return tileRow(name, shown(name) + (tiles.length ? "" : ": no concept fires"), tiles);
      }))
      .forEach(function (node) { panel.appendChild(node); });
  }

  function showImage(index) {
    var panel = document.getElementById("panel");
    panel.hidden = false;
    if (shownAt[index] === undefined) {
      panel.textContent = "";
      panel.appendChild(el("p", { className: "error", text: "Image " + index + " is in no concept's gallery: the image view " +
        "covers the " + META.shown_images.length + " images shown in concept galleries." }));
      return;
    }
    panel.textContent = "Loading image " + index + "\u2026";
    loadData("images/i" + pad(Math.floor(shownAt[index] / META.chunk_size), 5)).then(function (records) {
      if (currentImage() === index) renderImage(index, records[index]);
    }, function (error) {
      panel.textContent = "";
      panel.appendChild(el("p", { className: "error", text: error.message }));
    });
  }

  function renderImages() {
    var pages = Math.max(1, Math.ceil(META.shown_images.length / IMAGE_PAGE));
    var strip = document.getElementById("image-strip");
    strip.textContent = "";
    META.shown_images.slice(state.imagePage * IMAGE_PAGE, (state.imagePage + 1) * IMAGE_PAGE).forEach(function (index) {
      strip.appendChild(el("a", { href: "#image=" + index, title: "image " + index, "data-image": String(index) }, [META.thumbnails ?
        el("img", { src: thumbSrc(index), alt: "image " + index, loading: "lazy", width: "48", height: "48" }) :
        el("span", { text: String(index) })]));
    });
    var pager = document.getElementById("image-pager");
    pager.textContent = "";
    [["\u2190 previous", -1], ["next \u2192", 1]].forEach(function (item) {
      var button = el("button", { type: "button", text: item[0] });
      var target = state.imagePage + item[1];
      button.disabled = target < 0 || target >= pages;
      button.addEventListener("click", function () { state.imagePage = target; renderImages(); });
      pager.appendChild(button);
    });
    pager.appendChild(el("span", { text: "page " + (state.imagePage + 1) + " of " + pages }));
  }

  function renderImageControls() {
    document.getElementById("images-note").textContent = META.shown_images.length + " images: those shown in any concept's " +
      "gallery (the image view covers these only). Pick one to see the concepts that fire on it in every model, and where.";
    jumpInput("goto-image", function (index) {
      if (shownAt[index] !== undefined) {
        state.imagePage = Math.floor(shownAt[index] / IMAGE_PAGE);
        renderImages();
      }
      location.hash = "image=" + index;
    });
    renderImages();
  }

  function showConcept(k) {
    var panel = document.getElementById("panel");
    panel.hidden = false;
    if (rowOf[k] === undefined) {
      panel.textContent = "";
      panel.appendChild(el("p", { className: "error", text: "Concept " + k + " is dead or does not exist." }));
      return;
    }
    panel.textContent = "Loading concept " + k + "\u2026";
    loadData("chunks/c" + pad(Math.floor(k / META.chunk_size), 5)).then(function (records) {
      if (currentConcept() === k) renderPanel(k, records[k]);
    }, function (error) {
      panel.textContent = "";
      panel.appendChild(el("p", { className: "error", text: error.message }));
    });
  }

  function hashNumber(key) {
    var match = new RegExp("^#" + key + "=(\\d+)$").exec(location.hash);
    return match ? +match[1] : null;
  }

  function currentConcept() { return hashNumber("concept"); }

  function currentImage() { return hashNumber("image"); }

  function markSelected() {
    var k = currentConcept();
    document.querySelectorAll("#table tbody tr").forEach(function (row) {
      row.classList.toggle("selected", +row.getAttribute("data-concept") === k);
    });
  }

  function route() {
    var k = currentConcept(), index = currentImage();
    if (k !== null) showConcept(k);
    else if (index !== null) showImage(index);
    else document.getElementById("panel").hidden = true;
    markSelected();
  }

  document.addEventListener("keydown", function (event) { if (event.key === "Escape") location.hash = ""; });
  window.addEventListener("hashchange", route);
  renderOverview();
  renderControls();
  renderHead();
  update();
  renderImageControls();
  route();
  document.body.setAttribute("data-ready", "true");
  /* After the first frame with the table (style, layout, paint): when the index is usable, as the benchmark reads it. */
  requestAnimationFrame(function () {
    setTimeout(function () { document.body.setAttribute("data-drawn-ms", performance.now().toFixed(1)); }, 0);
  });
})();
