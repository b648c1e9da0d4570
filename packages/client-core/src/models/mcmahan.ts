/**
 * The two MNIST models of the FedAvg paper (McMahan et al., AISTATS 2017, Sec. 3), built
 * with tfjs-layers. Every layer gets an explicit name so that weight names, and therefore
 * the flat weights layout the server and clients agree on, do not depend on how many
 * models a process happened to create before (tfjs numbers anonymous layers globally).
 */
import * as tfl from '@tensorflow/tfjs-layers';

/** Options shared by the model factories. */
export interface ModelFactoryOptions {
  /**
   * Seed for the initializers (layer i uses `seed + i`), for reproducible tests. Production
   * servers usually initialize once and broadcast, so this is rarely needed.
   * @default undefined (tfjs's own random initialization)
   */
  seed?: number;
}

/** MNIST image as a flat vector, for the 2NN. */
export const MNIST_FLAT_SHAPE: readonly number[] = [784];
/** MNIST image as height x width x channels, for the CNN. */
export const MNIST_IMAGE_SHAPE: readonly number[] = [28, 28, 1];
/** Parameter count of the paper's 2NN. */
export const MNIST_2NN_PARAMS = 199_210;
/** Parameter count of the paper's CNN ('same' padding; 'valid' would give 582,026). */
export const MNIST_CNN_PARAMS = 1_663_370;

function initializers(options: ModelFactoryOptions, layerIndex: number): { kernelInitializer?: ReturnType<typeof tfl.initializers.glorotUniform> } {
  if (options.seed === undefined) return {};
  if (!Number.isInteger(options.seed)) throw new TypeError(`seed must be an integer, got ${options.seed}`);
  return { kernelInitializer: tfl.initializers.glorotUniform({ seed: options.seed + layerIndex }) };
}

/**
 * The paper's "2NN": 784 → 200 ReLU → 200 ReLU → 10 softmax, 199,210 parameters.
 * Weight names: `2nn_hidden1/kernel`, `2nn_hidden1/bias`, ..., `2nn_output/bias`.
 */
export function createMnist2nn(options: ModelFactoryOptions = {}): tfl.Sequential {
  return tfl.sequential({
    name: 'mnist_2nn',
    layers: [
      tfl.layers.dense({ name: '2nn_hidden1', inputShape: [...MNIST_FLAT_SHAPE], units: 200, activation: 'relu', ...initializers(options, 0) }),
      tfl.layers.dense({ name: '2nn_hidden2', units: 200, activation: 'relu', ...initializers(options, 1) }),
      tfl.layers.dense({ name: '2nn_output', units: 10, activation: 'softmax', ...initializers(options, 2) }),
    ],
  });
}

/**
 * The paper's CNN: 5x5 conv 32 ('same') + ReLU + 2x2 max pool, 5x5 conv 64 ('same') + ReLU
 * + 2x2 max pool, dense 512 ReLU, dense 10 softmax: 1,663,370 parameters, input [28, 28, 1].
 */
export function createMnistCnn(options: ModelFactoryOptions = {}): tfl.Sequential {
  return tfl.sequential({
    name: 'mnist_cnn',
    layers: [
      tfl.layers.conv2d({
        name: 'cnn_conv1', inputShape: [...MNIST_IMAGE_SHAPE], filters: 32, kernelSize: 5, padding: 'same',
        activation: 'relu', ...initializers(options, 0),
      }),
      tfl.layers.maxPooling2d({ name: 'cnn_pool1', poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({
        name: 'cnn_conv2', filters: 64, kernelSize: 5, padding: 'same', activation: 'relu', ...initializers(options, 1),
      }),
      tfl.layers.maxPooling2d({ name: 'cnn_pool2', poolSize: 2, strides: 2 }),
      tfl.layers.flatten({ name: 'cnn_flatten' }),
      tfl.layers.dense({ name: 'cnn_dense', units: 512, activation: 'relu', ...initializers(options, 2) }),
      tfl.layers.dense({ name: 'cnn_output', units: 10, activation: 'softmax', ...initializers(options, 3) }),
    ],
  });
}
