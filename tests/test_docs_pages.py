"""What a new user reads first: the README lists every docs page and links the provider guide,
has an Install section, and every flag the docs' flag table names is in ``vk-trio --help`` or
marked there as hidden from it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_readme_lists_every_docs_page() -> None:
    pages = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")}
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)\)", README))
    assert pages <= linked, f"not in the README: {sorted(pages - linked)}"
    assert not linked - pages, f"linked but missing: {sorted(linked - pages)}"


def test_readme_has_install_and_links_the_provider_guide() -> None:
    begin = README.index("## Install")
    install = README[begin : README.index("\n## ", begin + 1)]
    assert "pip install" in install
    assert "3.11" in install
    assert "make test" in install and "make demo" in install
    assert "[the provider guide](docs/provider.md)" in README


def _help() -> str:
    vk_trio = Path(sys.executable).with_name("vk-trio")
    done = subprocess.run([str(vk_trio), "--help"], capture_output=True, text=True, check=True)
    return done.stdout


def test_documented_flags_are_in_help_or_marked_hidden() -> None:
    deploy = (REPO / "docs" / "deploy.md").read_text()
    table = deploy[deploy.index("### Flags") : deploy.index("### Environment variables")]
    shown = set(re.findall(r"(--[a-z][a-z0-9.-]*)", _help()))
    rows = [line for line in table.splitlines() if line.startswith("| `--")]
    assert rows
    for row in rows:
        first_cell = row.split("|")[1]
        hidden = "hidden from `--help`" in row
        for flag in re.findall(r"`(--[a-z][a-z0-9.-]*)", first_cell):
            if flag.endswith(("-", ".")):  # a family such as --trace-*: hidden by definition
                assert hidden, row
                continue
            assert flag in shown or hidden, f"{flag}: neither in --help nor marked hidden"
            if hidden:
                assert flag not in shown, f"{flag} is marked hidden but --help shows it"
