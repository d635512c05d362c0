using System.Reflection;
using System.Reflection.Emit;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Queues.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Extensions.DurableTask;
using Microsoft.Azure.WebJobs.Extensions.Http;

namespace FinServerless.IsolatedHost;

/// <summary>What a parameter of an emitted function stands for.</summary>
internal enum ParameterRole
{
    /// <summary>The trigger's value.</summary>
    Trigger,

    /// <summary>A trigger metadata value bound by name from the trigger's binding data (blob path tokens, BlobTrigger).</summary>
    TriggerData,

    /// <summary>An input binding (durableClient, blob).</summary>
    Input,

    /// <summary>An output binding the worker's response fills.</summary>
    Output,

    /// <summary>The invocation's cancellation token (function timeout, host shutdown, caller gone).</summary>
    Cancellation,
}

/// <summary>One parameter of an emitted function.</summary>
internal sealed record EmittedParameter(string Name, Type Type, ParameterRole Role, BindingDescriptor? Binding);

/// <summary>A worker function as the WebJobs host sees it.</summary>
internal sealed record EmittedFunction(FunctionDescriptor Descriptor, IReadOnlyList<EmittedParameter> Parameters)
{
    public EmittedParameter TriggerParameter => Parameters.First(p => p.Role == ParameterRole.Trigger);
}

/// <summary>
/// Emits one static method per worker function, its parameters carrying the real WebJobs trigger and binding
/// attributes built from the worker's raw bindings: the part the Functions host's function generator plays. Each
/// method hands its bound arguments to the <see cref="InvocationBridge"/>, which turns them into an InvocationRequest.
/// </summary>
internal static class FunctionEmitter
{
    public const string TypeName = "Functions";

    public static (Type Type, IReadOnlyList<EmittedFunction> Functions) Emit(IEnumerable<FunctionDescriptor> functions)
    {
        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("FinServerless.IsolatedHost.Functions"), AssemblyBuilderAccess.Run);
        var type = assembly.DefineDynamicModule("Functions").DefineType(TypeName, TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.Class);
        var bridgeField = type.DefineField(nameof(InvocationBridge), typeof(InvocationBridge), FieldAttributes.Public | FieldAttributes.Static);
        var invoke = typeof(InvocationBridge).GetMethod(nameof(InvocationBridge.InvokeAsync))!;
        var emitted = new List<EmittedFunction>();
        foreach (var function in functions)
        {
            var parameters = Parameters(function);
            var method = type.DefineMethod(function.Name, MethodAttributes.Public | MethodAttributes.Static,
                function.ReturnsThroughTrigger ? typeof(Task<object>) : typeof(Task), parameters.Select(p => p.Parameter.Type).ToArray());
            method.SetCustomAttribute(new CustomAttributeBuilder(typeof(FunctionNameAttribute).GetConstructor([typeof(string)])!, [function.Name]));
            for (var i = 0; i < parameters.Count; i++)
            {
                var builder = method.DefineParameter(i + 1, ParameterAttributes.None, parameters[i].Parameter.Name);
                if (parameters[i].Attribute is { } attribute)
                {
                    builder.SetCustomAttribute(attribute);
                }
            }

            var il = method.GetILGenerator();
            il.Emit(OpCodes.Ldsfld, bridgeField);
            il.Emit(OpCodes.Ldc_I4, emitted.Count);
            il.Emit(OpCodes.Ldc_I4, parameters.Count);
            il.Emit(OpCodes.Newarr, typeof(object));
            for (var i = 0; i < parameters.Count; i++)
            {
                il.Emit(OpCodes.Dup);
                il.Emit(OpCodes.Ldc_I4, i);
                il.Emit(OpCodes.Ldarg, i);
                if (parameters[i].Parameter.Type.IsValueType)
                {
                    il.Emit(OpCodes.Box, parameters[i].Parameter.Type);
                }

                il.Emit(OpCodes.Stelem_Ref);
            }

            il.Emit(OpCodes.Callvirt, invoke);
            il.Emit(OpCodes.Ret);
            emitted.Add(new EmittedFunction(function, parameters.Select(p => p.Parameter).ToList()));
        }

        return (type.CreateType(), emitted);
    }

    /// <summary>Hands the emitted type its bridge (the static field every emitted method calls).</summary>
    public static void Bind(Type type, InvocationBridge bridge) => type.GetField(nameof(InvocationBridge))!.SetValue(null, bridge);

    private static List<(EmittedParameter Parameter, CustomAttributeBuilder? Attribute)> Parameters(FunctionDescriptor function)
    {
        var list = new List<(EmittedParameter, CustomAttributeBuilder?)>();
        var trigger = function.Trigger;
        var connection = trigger.Get("connection") ?? "AzureWebJobsStorage";
        var (triggerType, triggerAttribute) = trigger.Type.ToLowerInvariant() switch
        {
            "queuetrigger" => (typeof(QueueMessage), Attribute<QueueTriggerAttribute>([Required(trigger, "queueName")], ("Connection", connection))),
            "blobtrigger" => (trigger.DeferredBinding ? typeof(ParameterBindingData) : typeof(byte[]), Attribute<BlobTriggerAttribute>([Required(trigger, "path")], ("Connection", connection))),
            "httptrigger" => (typeof(HttpRequest), Attribute<HttpTriggerAttribute>([AuthorizationLevel.Anonymous, function.Methods], ("Route", function.Route))),
            "timertrigger" => (typeof(TimerInfo), Attribute<TimerTriggerAttribute>([Required(trigger, "schedule")],
                ("RunOnStartup", Bool(trigger, "runOnStartup")), ("UseMonitor", Bool(trigger, "useMonitor")))),
            "orchestrationtrigger" => (typeof(string), Attribute<OrchestrationTriggerAttribute>([], ("Orchestration", trigger.Get("orchestration")))),
            "activitytrigger" => (typeof(string), Attribute<ActivityTriggerAttribute>([], ("Activity", trigger.Get("activity")))),
            "entitytrigger" => (typeof(string), Attribute<EntityTriggerAttribute>([], ("EntityName", trigger.Get("entityName")))),
            var other => throw new WorkerStartException($"function {function.Name}: trigger type '{other}' is not one this host serves (queueTrigger, blobTrigger, httpTrigger, timerTrigger, orchestrationTrigger, activityTrigger, entityTrigger)"),
        };
        list.Add((new EmittedParameter(SafeName(trigger.Name), triggerType, ParameterRole.Trigger, trigger), triggerAttribute));
        if (function.PathTokens.Count > 0)
        {
            list.Add((new EmittedParameter("blobTrigger", typeof(string), ParameterRole.TriggerData, null), null));
            foreach (var token in function.PathTokens.Where(t => !string.Equals(t, "blobTrigger", StringComparison.OrdinalIgnoreCase)))
            {
                list.Add((new EmittedParameter(token, typeof(string), ParameterRole.TriggerData, null), null));
            }
        }

        foreach (var input in function.Inputs)
        {
            var (type, attribute) = input.Type.ToLowerInvariant() switch
            {
                "durableclient" => (typeof(string), Attribute<DurableClientAttribute>([], ("TaskHub", input.Get("taskHub")), ("ConnectionName", input.Get("connectionName")))),
                "blob" => (input.DeferredBinding ? typeof(ParameterBindingData) : typeof(byte[]),
                    Attribute<BlobAttribute>([Required(input, "blobPath"), FileAccess.Read], ("Connection", input.Get("connection") ?? "AzureWebJobsStorage"))),
                var other => throw new WorkerStartException($"function {function.Name}: input binding type '{other}' is not one this host serves (durableClient, blob)"),
            };
            list.Add((new EmittedParameter(SafeName(input.Name), type, ParameterRole.Input, input), attribute));
        }

        foreach (var output in function.Outputs)
        {
            var (type, attribute) = output.Type.ToLowerInvariant() switch
            {
                "queue" => (typeof(IAsyncCollector<string>), Attribute<QueueAttribute>([Required(output, "queueName")], ("Connection", output.Get("connection") ?? "AzureWebJobsStorage"))),
                "blob" => (typeof(BlockBlobClient), Attribute<BlobAttribute>([Required(output, "blobPath"), FileAccess.Write], ("Connection", output.Get("connection") ?? "AzureWebJobsStorage"))),
                var other => throw new WorkerStartException($"function {function.Name}: output binding type '{other}' is not one this host serves (queue, blob, http)"),
            };
            list.Add((new EmittedParameter(SafeName(output.Name), type, ParameterRole.Output, output), attribute));
        }

        list.Add((new EmittedParameter("cancellationToken", typeof(CancellationToken), ParameterRole.Cancellation, null), null));
        return list;
    }

    private static string SafeName(string bindingName) => bindingName == "$return" ? "returnValue" : bindingName;

    private static string Required(BindingDescriptor binding, string key) =>
        binding.Get(key) is { Length: > 0 } value ? value : throw new WorkerStartException($"binding '{binding.Name}' ({binding.Type}) has no '{key}'");

    private static object? Bool(BindingDescriptor binding, string key) => binding.Get(key) is { } text && bool.TryParse(text, out var value) ? value : null;

    private static CustomAttributeBuilder Attribute<T>(object[] arguments, params (string Name, object? Value)[] properties)
    {
        var constructor = typeof(T).GetConstructors().First(c => c.GetParameters().Length == arguments.Length
            && c.GetParameters().Select((p, i) => p.ParameterType.IsInstanceOfType(arguments[i])).All(x => x));
        var set = properties.Where(p => p.Value is not null).ToArray();
        return new CustomAttributeBuilder(constructor, arguments, set.Select(p => typeof(T).GetProperty(p.Name)!).ToArray(), set.Select(p => p.Value!).ToArray());
    }
}
