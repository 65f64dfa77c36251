"""The output pipeline: every byte orchestra prints goes through `mux.Multiplexer`."""
