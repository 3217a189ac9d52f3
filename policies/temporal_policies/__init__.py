"""Rules of the temporal-workers policy pack: pure functions over camelCase property dicts.

Nothing here imports `infra/` or `workerkit`: the pack judges whatever a stack produces.
"""
