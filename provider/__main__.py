"""Entry point the Pulumi Python language host runs for this plugin: the component provider."""

from kmsguard.provider import serve

if __name__ == "__main__":
    serve()
