"""Every benchmark (`brushwork bench ...`) and its report; `cli` holds the subcommands.  Nothing in
the library imports this package."""
