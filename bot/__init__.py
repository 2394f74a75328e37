"""salesbrain's edges: the Slack app, the command line and the process runners."""
