//! The pure core of kubectl-chronom: plain data in, plain data out. Nothing here reads files,
//! the environment or the clock, talks to a network or prints; the binary (`chronom`) does
//! that and calls in here for every decision.
