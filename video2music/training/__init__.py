"""Training: the options, the task table (amt, regression, melody) and the loop."""
