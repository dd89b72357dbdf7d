"""Pipeline definition, configuration, local runner, run summary and the command line."""
