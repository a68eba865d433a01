"""`python -m storefront …`: Litestar's CLI for this shop, with settings checked first so a bad
value ends the start with one line naming the variable."""

from __future__ import annotations

import os
import sys


def main() -> None:
    from storefront.settings import Settings, SettingsError

    try:
        Settings.from_env()
    except SettingsError as error:
        print(f"storefront: cannot start: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    os.environ.setdefault("LITESTAR_APP", "storefront.app:create_app")
    from litestar.cli.main import litestar_group

    litestar_group()


if __name__ == "__main__":
    main()
