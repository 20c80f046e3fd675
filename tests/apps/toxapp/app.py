import sys

import six

print("six", six.__version__, "args", sys.argv[1:])
