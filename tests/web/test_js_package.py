"""The npm package js/: tsc, node's test runner, and a tarball carrying what the adapter serves."""

# `make test` reaches the JavaScript checks through these tests: they shell out to npm in js/
# (its dev dependencies come from scripts/install-test-deps.sh).

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import missing_tool
from tests.support.shared import REPO
from tests.web.web_support import JS_PACKAGE
from timeledger.web.assets import SCRIPT_NAMES, script

FRAMEWORKS = {"react", "vue", "svelte"}
DOC = REPO / "docs" / "web.md"
DOCS_CHECK = JS_PACKAGE / ".docs-check"
"""Where the docs' snippets are type-checked (inside js/, so "timeledger" resolves)."""


@pytest.fixture(scope="module")
def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        missing_tool("npm is not installed (needed to check and pack js/)")
    assert found is not None
    if not (JS_PACKAGE / "node_modules" / "typescript" / "package.json").is_file():
        missing_tool("js/node_modules is missing: run scripts/install-test-deps.sh")
    return found


def run_npm(npm: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([npm, *args], cwd=JS_PACKAGE, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def packed(npm: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file `npm pack` makes (its prepack builds dist/ from src/timeledger/web/static)."""
    folder = tmp_path_factory.mktemp("npm-pack")
    run_npm(npm, "pack", "--pack-destination", str(folder))
    [made] = folder.glob("timeledger-*.tgz")
    return made


@pytest.fixture(scope="module")
def tarball(packed: Path) -> tarfile.TarFile:
    return tarfile.open(packed)


def packed_bytes(tarball: tarfile.TarFile, name: str) -> bytes:
    member = tarball.extractfile(f"package/{name}")
    assert member is not None, name
    return member.read()


def test_the_sources_and_an_apps_view_of_the_types_check(npm: str,
                                                        tarball: tarfile.TarFile) -> None:
    """tsc --noEmit on the JSDoc-typed modules, then on a TypeScript app using dist/'s .d.ts."""
    run_npm(npm, "exec", "--", "tsc", "--noEmit", "-p", "tsconfig.json")
    run_npm(npm, "exec", "--", "tsc", "--noEmit", "-p", "test/types/tsconfig.json")


def test_the_node_unit_tests_pass(npm: str, tarball: tarfile.TarFile) -> None:
    declared = sum(len(re.findall(r"^test\(", path.read_text(), flags=re.M))
                   for path in (JS_PACKAGE / "test").glob("*.test.js"))

    result = run_npm(npm, "test")

    assert re.search(r"^# fail 0$", result.stdout, flags=re.M), result.stdout[-2000:]
    assert re.search(rf"^# pass {declared}$", result.stdout, flags=re.M), result.stdout[-2000:]
    assert declared >= 10


def test_the_tarball_holds_exactly_the_served_modules_with_their_types(
        tarball: tarfile.TarFile) -> None:
    names = set(tarball.getnames())
    shipped = {name.removeprefix("package/dist/") for name in names
               if name.startswith("package/dist/") and name.endswith(".js")}

    assert shipped == set(SCRIPT_NAMES)
    for name in SCRIPT_NAMES:
        assert packed_bytes(tarball, f"dist/{name}") == script(name).content, name
        assert f"package/dist/{name.removesuffix('.js')}.d.ts" in names
    assert names <= {"package/package.json", "package/README.md"} | {
        f"package/dist/{name}" for name in SCRIPT_NAMES} | {
        f"package/dist/{name.removesuffix('.js')}.d.ts" for name in SCRIPT_NAMES}


def test_the_package_has_no_runtime_dependencies_and_its_exports_resolve(
        tarball: tarfile.TarFile) -> None:
    manifest: dict[str, Any] = json.loads(packed_bytes(tarball, "package.json"))
    names = set(tarball.getnames())

    assert manifest["type"] == "module"
    assert "dependencies" not in manifest
    assert set(manifest["peerDependencies"]) == FRAMEWORKS
    assert manifest["peerDependenciesMeta"] == {name: {"optional": True} for name in FRAMEWORKS}
    assert set(manifest["exports"]) == {".", "./react", "./vue", "./svelte", "./package.json"}
    for subpath, target in manifest["exports"].items():
        if subpath == "./package.json":
            continue
        assert set(target) == {"types", "default"}
        assert {f"package/{target['types'][2:]}", f"package/{target['default'][2:]}"} <= names


def test_an_app_installs_the_tarball_alone_and_imports_it(npm: str, packed: Path,
                                                          tmp_path: Path) -> None:
    """Offline: nothing but the package is fetched, and no optional peer is pulled in."""
    (tmp_path / "package.json").write_text(json.dumps({"name": "an-app", "private": True,
                                                       "type": "module"}))
    installed = subprocess.run([npm, "install", "--offline", "--no-audit", "--no-fund",
                                str(packed)], cwd=tmp_path, capture_output=True, text=True,
                               timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr
    imported = subprocess.run(
        ["node", "--input-type=module", "-e",
         'const m = await import("timeledger"); console.log(Object.keys(m).sort().join(" "))'],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)

    assert sorted(p.name for p in (tmp_path / "node_modules").iterdir()
                  if not p.name.startswith(".")) == ["timeledger"]
    assert imported.stdout.split() == ["Activity", "Client", "TimebackError", "createClient",
                                       "validateMetrics"], imported.stderr


def test_the_wheel_ships_the_same_modules(tarball: tarfile.TarFile, tmp_path: Path) -> None:
    """pip users get, under timeledger/web/static, the very bytes npm users get in dist/."""
    built = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d",
                            str(tmp_path)], cwd=JS_PACKAGE.parent, capture_output=True, text=True,
                           timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("timeledger-*.whl")

    with zipfile.ZipFile(wheel) as archive:
        for name in SCRIPT_NAMES:
            assert archive.read(f"timeledger/web/static/{name}") == packed_bytes(
                tarball, f"dist/{name}"), name


def framework_snippets() -> dict[str, str]:
    """docs/web.md §6's JavaScript blocks (React's JSX, Vue's component, the Svelte stores)."""
    section = DOC.read_text().split("\n## 6. ", 1)[1].split("\n## 7. ", 1)[0]
    blocks = re.findall(r"```(jsx|js)\n(.*?)```", section, flags=re.S)
    return {f"snippet{number}.{kind}": code for number, (kind, code) in enumerate(blocks)}


def test_the_docs_framework_examples_type_check_against_the_package(
        npm: str, tarball: tarfile.TarFile) -> None:
    snippets = framework_snippets()
    assert [name.rsplit(".", 1)[1] for name in snippets] == ["jsx", "js", "js"]
    assert [bool(re.search(rf'from "timeledger/{framework}"', code))
            for framework, code in zip(["react", "vue", "svelte"], snippets.values(),
                                       strict=True)] == [True, True, True]
    shutil.rmtree(DOCS_CHECK, ignore_errors=True)
    DOCS_CHECK.mkdir()
    for name, code in snippets.items():
        (DOCS_CHECK / name).write_text(code)
    # Not strict: the snippets are plain JavaScript, whose `shallowRef(null)` TypeScript would
    # otherwise narrow to null. Unknown imports, exports and wrong calls are still errors.
    (DOCS_CHECK / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "target": "ES2022", "module": "ESNext", "moduleResolution": "Bundler",
        "lib": ["ES2022", "DOM"], "allowJs": True, "checkJs": True, "noEmit": True,
        "jsx": "react-jsx", "skipLibCheck": True, "types": []}, "include": list(snippets)}))
    try:
        run_npm(npm, "exec", "--", "tsc", "-p", str(DOCS_CHECK / "tsconfig.json"))
    finally:
        shutil.rmtree(DOCS_CHECK, ignore_errors=True)
