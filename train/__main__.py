import sys

from cadrage.training.cli import main

sys.exit(main())
