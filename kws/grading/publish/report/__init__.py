"""The class report (`kws report`): one offline HTML page about a graded class."""
