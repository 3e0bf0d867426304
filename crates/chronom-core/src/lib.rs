//! The pure core of kubectl-chronom: plain data in, plain data out. Nothing here reads files,
//! the environment or the clock, talks to a network or prints; the binary (`chronom`) does
//! that and calls in here for every decision.

pub mod action;
pub mod arn;
pub mod audit;
pub mod aws_profile;
pub mod awsauth;
pub mod diagnose;
pub mod eks;
pub mod error;
pub mod exit;
pub mod inherited_access;
pub mod mapping;
pub mod outcome;
pub mod partition;
pub mod plan;
pub mod rbac;
pub mod readonly_role;
pub mod report;
