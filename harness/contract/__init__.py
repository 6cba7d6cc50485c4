"""The contract stage: Pact provider verification of the platform's APIs.

Modules (this package imports nothing eagerly: the verifier child must start fast):

- ``spec``        ContractStep, the suite-file model (broker options included)
- ``stage``       STAGE: check() and run() for the engine
- ``pactfile``    pact JSON as typed values; selecting and counting interactions
- ``plan``        the JSON plan handed to the verifier child (no secrets)
- ``verifier``    the child: ``python -m harness.contract.verifier PLAN RESULTS``
- ``states``      provider states set up through the registry's public API (child side)
- ``results``     judging the child's results into one criterion per interaction
- ``broker``      Pact Broker HAL client (publish, pacts for verification, can-i-deploy)
- ``broker_flow`` the broker side of a step (fetch, publish results, can-i-deploy)
- ``publish``     ``python -m harness.contract.publish``: publish pacts to a broker
"""
