"""orchestrator: Salesforce Account Engagement (Pardot) email sends as code.

The package reads as a one-way pipeline::

    files -> yamlload/config/campaigns (load, validate) -> render -> policy
          -> sends (desired sends) -> planner -> plan -> apply -> state

Everything but the edges (``yamlload``, ``pardot``, ``state``, ``sandbox``, ``cli``) is pure:
the current time is always a parameter.
"""

__version__ = "0.1.0"
