import sys

from keystone_nexus.cli.main import main

sys.exit(main())
