return MambaByte.Train.Cli.Run(args);
