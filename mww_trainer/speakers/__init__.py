"""Who is speaking: embeddings, clustering by voice, applying the groups, the leakage audit.

The optional ``cluster`` extra (torch, resemblyzer, scikit-learn) is imported only inside
these modules' functions; importing the package costs nothing.
"""
