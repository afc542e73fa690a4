"""Analysis of a Run: metrics, quantiles, years behind, overtaking odds. Reads only Run.dataset."""
