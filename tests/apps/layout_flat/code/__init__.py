"""Package `mapped`, in folder code/: setuptools' finder maps the name to
this folder (package-dir), which no sys.path entry can spell."""
from . import sub  # noqa: F401
