"""Unit tier of the Pulumi program: pure specs, config validation, the program under mocks."""
