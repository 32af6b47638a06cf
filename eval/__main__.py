import sys

from cadrage.evaluation.cli import main

sys.exit(main())
