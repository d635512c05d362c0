using FinServerless.DevHost;

return await CommandLine.RunAsync(args);
