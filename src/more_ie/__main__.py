import sys

from more_ie.cli import main

sys.exit(main())
