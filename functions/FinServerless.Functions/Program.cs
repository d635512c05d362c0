using Azure.Core.Serialization;
using FinServerless.Functions;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The function app on the .NET isolated worker. The app's services are built once, before the worker connects to
// the host: a bad setting fails the start naming the setting, not the first invocation that reads it.
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
var services = new AppServices(new AppSettings(Environment.GetEnvironmentVariable));
builder.Services.AddSingleton(services);
builder.Services.Configure<WorkerOptions>(options => options.Serializer = new JsonObjectSerializer(AppJson.Options));
using var app = builder.Build();
await app.RunAsync();
