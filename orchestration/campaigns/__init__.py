"""Campaigns as code: typed specs read from the reviewed YAML files in /campaigns, and their rendering."""
