"""The agents: Prompt Studio (`prompt_studio/`, PSA), Model Studio (`model_studio/`, MSA),
Decision Intelligence (`dia/`, DIA), the Governance agent (`governance_agent/`, GA) and the
Operations agent (`operations/`, OSA). Each runs as a Serve deployment of its own
(`deployments/agents.py`) and answers the routes of its module in `rivergen/api/`; see
ARCHITECTURE.md for the table of names."""
