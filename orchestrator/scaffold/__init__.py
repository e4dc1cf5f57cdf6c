"""Files ``orchestrator init`` writes: a starter project and, with ``--ci github``, the workflows.

Kept as plain files (not strings in code) so they can be read, diffed and tested as what they
are; ``examples/github-actions/`` holds byte-identical copies of the workflows (a test checks).
"""
