"""Import the given modules and every module of the given packages: the image build fails
when a service needs a dependency its image does not carry (the service images leave out
Spark's stack)."""

import importlib
import pkgutil
import sys

# Importing them would start a program, or (gunicorn_conf) read the deployment's settings
# from the environment and refuse the build's empty one, rather than import a module.
ENTRY_POINTS = {"__main__", "wsgi", "gunicorn_conf"}

for name in sys.argv[1:]:
    package = importlib.import_module(name)
    # a plain module has no __path__: it is checked by the import above
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), prefix=f"{name}."):
        if info.name.rsplit(".", 1)[-1] not in ENTRY_POINTS:
            importlib.import_module(info.name)
print(f"check_imports: {', '.join(sys.argv[1:])} import")
