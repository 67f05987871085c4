"""Engine-less preview: run the program under mocks and the policy pack over its gRPC protocol."""
