"""Experiments that produce the README's accuracy figures: stage configs, a resumable stage
runner, and the report (results/*.json, plots and README tables generated from them)."""
