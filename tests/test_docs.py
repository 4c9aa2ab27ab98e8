"""The documentation: README size and first screen, links, cited paths, and the method's headings."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [README, REPO / "config" / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
# Prefixes of repository paths that must exist when a page writes them in backticks.
PATH_PREFIXES = ("src/", "tests/", "workflow/", "benchmarks/", "config/", "docs/", "profiles/", ".test/", ".ci/")
METHOD_HEADINGS = [
    "Models and activations",
    "Architecture",
    "Objective and training step",
    "Metrics",
    "Baseline: independent SAEs and Hungarian matching",
    "Coordinated activation maximisation",
    "Paper figures and numbers",
]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _ids(pages):
    return [str(page.relative_to(REPO)) for page in pages]


def _prose(text):
    """The text without its fenced code blocks."""
    return FENCE.sub("", text)


def _anchor(heading):
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page):
    return {_anchor(heading) for heading in HEADING.findall(_prose(page.read_text()))}


def _cited_paths(text):
    """Repository paths written in backticks: in code spans and in fenced code blocks."""
    chunks = CODE_SPAN.findall(_prose(text))
    for block in FENCE.findall(text):
        chunks.extend(block.splitlines()[1:-1])
    for chunk in chunks:
        for token in chunk.split():
            token = token.strip("\"'(),;:.")
            if token.startswith(PATH_PREFIXES):
                yield token


def _exists(path):
    """Whether a cited path exists; placeholders (``<stage>``, ``{a,b}``, ``*``) match any name."""
    pattern = re.sub(r"<[^>/]*>|\{[^}/]*\}", "*", path).rstrip("/")
    if "*" in pattern:
        return any(REPO.glob(pattern))
    return (REPO / pattern).exists()


def test_readme_is_at_most_150_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail to docs/"


def test_readme_first_screen_has_the_two_commands():
    first_screen = "\n".join(README.read_text().splitlines()[:40])
    assert "make run" in first_screen
    assert "make test" in first_screen


def _link_targets(page):
    return {(page.parent / link.split("#")[0]).resolve() for link in LINK.findall(_prose(page.read_text()))}


def test_the_docs_index_links_every_page_and_the_readme_links_the_index():
    index = REPO / "docs" / "README.md"
    missing = [
        str(page.relative_to(REPO))
        for page in sorted((REPO / "docs").rglob("*.md"))
        if page != index and page.resolve() not in _link_targets(index)
    ]
    assert not missing, f"docs/README.md does not link {missing}"
    assert index.resolve() in _link_targets(README)


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_relative_links_point_to_existing_files(page):
    broken = []
    for link in LINK.findall(_prose(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", link):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link} (no such heading)")
    assert not broken, f"{page.relative_to(REPO)}: broken links {broken}"


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_cited_paths_exist(page):
    missing = sorted({path for path in _cited_paths(page.read_text()) if not _exists(path)})
    assert not missing, f"{page.relative_to(REPO)}: cites paths that do not exist: {missing}"


def test_no_tracked_file_cites_the_spec_outside_the_repository():
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout ({exc}): cannot list tracked files")
    needle = "shared/" + "spec"
    this = Path(__file__).resolve()
    offenders = []
    for name in filter(None, listed.decode().split("\0")):
        path = REPO / name
        if path.resolve() == this or not path.is_file():
            continue
        if needle.encode() in path.read_bytes():
            offenders.append(name)
    assert not offenders, f"cite {needle} (users who clone do not have it; cite docs/method.md): {offenders}"


def test_method_page_has_the_headings_code_cites():
    headings = set(HEADING.findall(_prose((REPO / "docs" / "method.md").read_text())))
    missing = [heading for heading in METHOD_HEADINGS if heading not in headings]
    assert not missing, f"docs/method.md lacks the sections {missing}"


def test_every_results_folder_the_docs_create_is_ignored_by_git():
    """A `git add -A` after the docs' commands never commits an experiment's results (docs/dvc.md)."""
    texts = [page.read_text() for page in PAGES]
    roots = sorted({root for text in texts for root in re.findall(r"results=([\w./-]+)", text)} | {"results"})
    assert len(roots) > 1
    for root in roots:
        ignored = subprocess.run(["git", "check-ignore", "-q", f"{root}/train/usae/model.json"], cwd=REPO)
        assert ignored.returncode == 0, f"{root}/ is not ignored by .gitignore"


MEASURE_UNITS = {"minutes": "min", "min": "min", "seconds": "s", "s": "s", "MB": "MB", "GB": "GB", "GiB": "GiB"}
MEASURE_UNITS.update({"images/s": "images/s", "tokens/s": "tokens/s"})


def measured_figures(text):
    """``(number, unit)`` of every time, size or throughput in ``text`` (units normalised: minutes -> min)."""
    units = "|".join(sorted(map(re.escape, MEASURE_UNITS), key=len, reverse=True))
    found = re.finditer(rf"(?<![\w.,])(\d+(?:\.\d+)?) ?({units})(?![\w/])", text)
    return {(match.group(1), MEASURE_UNITS[match.group(2)]) for match in found}


def paragraphs(markdown):
    """Blank-line separated paragraphs, a code block joined to the paragraph before it (which says what ran)."""
    joined = []
    for part in markdown.split("\n\n"):
        if part.lstrip().startswith("```") and joined:
            joined[-1] += "\n\n" + part
        else:
            joined.append(part)
    return joined


def test_every_measured_figure_of_the_docs_comes_from_a_benchmark_or_a_report():
    """A time, size or throughput quoted in the README or docs/ appears, with its unit, in benchmarks/README.md or
    a report of docs/reports/, or its paragraph names the benchmarks/ script that printed it, or calls it an
    estimate."""
    sources = (REPO / "benchmarks" / "README.md").read_text()
    sources += "".join(path.read_text() for path in sorted((REPO / "docs" / "reports").glob("*.md")))
    known = measured_figures(sources)
    unsourced = [
        (page.name, figure)
        for page in [README, *sorted((REPO / "docs").glob("*.md"))]
        for paragraph in paragraphs(page.read_text())
        if not re.search(r"benchmarks/\w+\.(py|sh)|estimat", paragraph)
        for figure in sorted(measured_figures(paragraph) - known)
    ]
    assert unsourced == []
