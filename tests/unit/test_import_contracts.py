"""The import contracts that keep the shop and the offline sandbox apart name every part of the
shop, so a new module cannot slip past them."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSERS = {"storefront.devserver", "storefront.__main__", "storefront.sandbox", "storefront.migrations"}


def shop_modules() -> set[str]:
    package = ROOT / "storefront"
    names = {f"storefront.{path.stem}" for path in package.glob("*.py") if path.stem != "__init__"}
    names |= {f"storefront.{path.parent.name}" for path in package.glob("*/__init__.py")}
    return names - COMPOSERS


def contract(name_start: str) -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (found,) = [c for c in contracts if c["name"].startswith(name_start)]
    return found


def test_the_sandbox_contract_forbids_every_part_of_the_shop():
    forbidden = set(contract("The offline Stripe sandbox imports nothing")["forbidden_modules"])
    assert forbidden == shop_modules() | {"storefront.devserver"}


def test_the_shop_contract_covers_every_part_of_the_shop():
    assert set(contract("The shop never imports the offline Stripe sandbox")["source_modules"]) == shop_modules()
