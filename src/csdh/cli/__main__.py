import sys

from csdh.cli import main

sys.exit(main())
