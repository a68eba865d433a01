"""`python -m storefront …`: Litestar's CLI for this shop, with settings checked first so a bad
value ends the start with one line naming the variable. `python -m storefront sandbox …` is the
offline Stripe sandbox's own command line; `python -m storefront doctor` the go-live check."""

from __future__ import annotations

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["sandbox"]:
        from storefront.sandbox.cli import sandbox

        sandbox(args=sys.argv[2:], prog_name="python -m storefront sandbox")
        return
    if sys.argv[1:2] == ["doctor"]:  # before the settings check: the doctor reports a bad setting as a ✗
        from storefront.doctor import main as doctor

        raise SystemExit(doctor(sys.argv[2:], os.environ))
    from storefront.settings import Settings, SettingsError

    try:
        Settings.from_env()
    except SettingsError as error:
        print(f"storefront: cannot start: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    # Without Stripe keys the development server adds the offline sandbox; otherwise it is the shop.
    os.environ.setdefault("LITESTAR_APP", "storefront.devserver:create_app")
    from litestar.cli.main import litestar_group

    litestar_group()


if __name__ == "__main__":
    main()
