"""`python -m storefront.sandbox serve …`"""

from storefront.sandbox.cli import sandbox

sandbox(prog_name="python -m storefront.sandbox")
