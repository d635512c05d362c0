using FinServerless.Functions;
using FinServerless.Functions.Handler;

// The custom handler: every function of the app behind the host's HTTP envelopes (see HandlerHost).
using var services = new AppServices(new AppSettings(Environment.GetEnvironmentVariable));
await HandlerHost.RunAsync(args, FunctionTable.Create(services));
