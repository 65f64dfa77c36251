"""Loading a project: config file → validated, frozen model."""
