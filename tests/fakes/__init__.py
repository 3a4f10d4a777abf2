"""Stand-ins for the services around the add-on: a real mosquitto, a fake Supervisor."""
