using FinServerless.Cli;

return await Verbs.RunAsync(args);
