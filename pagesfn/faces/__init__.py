"""The two faces of an app: each reads its protocol in, goes through the request's
lifecycle (:mod:`pagesfn.engine.lifecycle`) and writes the answer out. The same file names
do the same jobs on both sides; the two never import each other."""
