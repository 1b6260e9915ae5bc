"""The mkdocs hook that builds the site from the Markdown as GitHub shows it.

The guides in docs/ link to files outside it with repository paths (`../bench/README.md`,
`../results/ablations.png`), and README.md links into docs/. In the site every file keeps its
repository path with `docs/` dropped: README.md is the home page, and the pages and files linked
from outside docs/ are added. Each relative link is rewritten from the repository to the site,
so that both work and `mkdocs build --strict` still checks every one of them.
"""

import logging
import pathlib
import posixpath
import re

from mkdocs.structure.files import File

LOG = logging.getLogger("mkdocs.hooks")  # its warnings fail the strict build
REPO = pathlib.Path(__file__).resolve().parents[1]
PAGES = ("README.md", "ARCHITECTURE.md", "bench/README.md")  # outside docs/, shown as pages
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
# A relative link: a Markdown link or image `[text](path#anchor "title")`, or `src="path"`.
LINK = re.compile(r'(?:\[(?P<text>[^\]]*)\]\(|src=")(?![a-z]+:)(?P<path>[^)"#\s]+)[^)"]*[)"]')


def site_path(repo_path):
    """Where a repository file is in the site: docs/ is the site's root."""
    return repo_path.removeprefix("docs/")


def repo_path(file):
    """Where a site file is in the repository: the files added here keep their path."""
    return file.src_uri if file.generated_by else f"docs/{file.src_uri}"


def linked_paths(page):
    """The repository paths that `page` (a repository path) links to, outside code blocks."""
    text = FENCE.sub("", (REPO / page).read_text())
    base = posixpath.dirname(page)
    return {posixpath.normpath(posixpath.join(base, link["path"])) for link in LINK.finditer(text)}


def on_files(files, config):
    """Add the pages outside docs/ and every file outside docs/ that a page links to."""
    pages = [*PAGES, *(f"docs/{file.src_uri}" for file in files.documentation_pages())]
    for path in sorted(set(PAGES).union(*map(linked_paths, pages))):
        if not path.startswith("docs/") and (REPO / path).is_file():
            file = File.generated(config, site_path(path), abs_src_path=str(REPO / path))
            file.generated_by = __name__
            files.append(file)
    return files


def on_page_markdown(markdown, page, config, files):
    """The page with its links rewritten from the repository to the site. A Markdown link is
    then relative to the page's source, which mkdocs checks and turns into URLs; a link to a
    folder keeps its text only (the site holds no source tree). Raw HTML, which mkdocs leaves
    as it is, gets the URL and is checked here."""
    base = posixpath.dirname(repo_path(page.file))

    def relink(link):
        target = posixpath.normpath(posixpath.join(base, link["path"]))
        if link["text"] is None:
            if not (REPO / target).is_file():
                LOG.warning("%s links to %s, which does not exist", repo_path(page.file), target)
            new = posixpath.relpath(site_path(target), posixpath.dirname(page.url) or ".")
        elif (REPO / target).is_dir():
            return link["text"]
        else:
            new = posixpath.relpath(site_path(target), posixpath.dirname(page.file.src_uri) or ".")
        start, end = link.span("path")
        return link[0][:start - link.start()] + new + link[0][end - link.start():]

    parts = re.split(f"({FENCE.pattern})", markdown, flags=re.S | re.M)
    return "".join(part if part.startswith("```") else LINK.sub(relink, part) for part in parts)
