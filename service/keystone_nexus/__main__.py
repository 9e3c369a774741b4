import sys

from keystone_nexus.cli import main

sys.exit(main())
